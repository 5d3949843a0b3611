"""The platform's health as the web page's Operations tab shows it, read from Prometheus.

Every number here is a PromQL query over what Prometheus already scrapes (the services, the
lakehouse exporter), so the page shows what the alert rules see: ingest rate, lag, freshness
and quarantine share of the stream, the history of the pipeline's gates, and each scrape
target's health beside the alerts firing now. The queries are built from the metric names the
writers define (:mod:`core.run_metrics`, :mod:`app.pipeline_metrics`), never retyped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from app import pipeline_metrics
from core import prometheus_api
from core.exceptions import LakehouseError
from core.prometheus_api import RangeSeries, Series
from core.run_metrics import (
    STREAM_CONSUMER_LAG,
    STREAM_LAST_COMMIT,
    STREAM_ROWS_LANDED,
    STREAM_ROWS_QUARANTINED,
)
from core.settings import LakehouseSettings, NamespaceSettings

INGEST_RATE = f"sum by (topic) (rate({STREAM_ROWS_LANDED}[1m]))"
LAG = f"sum by (topic) ({STREAM_CONSUMER_LAG})"
FRESHNESS = f"time() - max by (topic) ({STREAM_LAST_COMMIT})"
# The same share QuarantineShareHigh alerts on, over a shorter window so the chart moves.
QUARANTINE_SHARE = (
    f"sum(rate({STREAM_ROWS_QUARANTINED}[5m])) "
    f"/ (sum(rate({STREAM_ROWS_LANDED}[5m])) + sum(rate({STREAM_ROWS_QUARANTINED}[5m])))"
)
TARGETS_UP = "up"
FIRING = 'ALERTS{alertstate="firing"}'


@dataclass(frozen=True)
class GateRun:
    """One pipeline run as Prometheus saw it: when it ended and each gate's result."""

    ended: datetime
    published: bool
    gates: dict[str, bool | None]  # None: the gate did not run (an earlier one failed)


@dataclass(frozen=True)
class OpsView:
    """One look at the platform; ``problem`` says why the numbers are missing."""

    window_s: float
    ingest_rate: list[RangeSeries] = field(default_factory=list)
    lag: list[RangeSeries] = field(default_factory=list)
    freshness: list[RangeSeries] = field(default_factory=list)
    quarantine_share: list[RangeSeries] = field(default_factory=list)
    targets: list[Series] = field(default_factory=list)
    firing: list[Series] = field(default_factory=list)
    gate_runs: list[GateRun] = field(default_factory=list)
    problem: str | None = None

    @property
    def targets_up(self) -> int:
        return sum(1 for t in self.targets if t.value == 1)


def latest(series: list[RangeSeries]) -> float | None:
    """The sum of each series' last point (rows/s or lag over all topics); None with no data."""
    last = [s.points[-1][1] for s in series if s.points]
    return sum(last) if last else None


def oldest_latest(series: list[RangeSeries]) -> float | None:
    """The largest of each series' last point (the stalest topic's freshness)."""
    last = [s.points[-1][1] for s in series if s.points]
    return max(last) if last else None


def gate_history(
    last_run: list[RangeSeries], gates: list[RangeSeries], run_ok: list[RangeSeries]
) -> list[GateRun]:
    """Runs, newest first, from the range series of the pipeline's last-run time, its gates and
    its outcome. The exporter serves one run's samples together, so a new ``last_run`` value and
    that run's gate values appear at the same evaluation time."""
    by_time: dict[str, dict[float, float]] = {s.labels.get("gate", ""): dict(s.points) for s in gates}
    outcome = dict(run_ok[0].points) if run_ok else {}
    # The layers in the order the pipeline gates them (the namespace settings' field order).
    order = {layer: index for index, layer in enumerate(NamespaceSettings.model_fields)}
    names = sorted(by_time, key=lambda name: (order.get(name, len(order)), name))
    runs: dict[float, GateRun] = {}
    for series in last_run:
        for at, ended in series.points:
            if ended in runs:
                continue
            runs[ended] = GateRun(
                ended=datetime.fromtimestamp(ended, UTC),
                published=outcome.get(at) == 1,
                gates={name: (None if at not in by_time[name] else by_time[name][at] == 1) for name in names},
            )
    return sorted(runs.values(), key=lambda r: r.ended, reverse=True)


def ops_view(settings: LakehouseSettings, window_s: float = 1800, history_s: float = 86400) -> OpsView:
    """The stream's last ``window_s`` seconds, the pipeline's runs over ``history_s``, health now.
    Prometheus down or refusing a query gives an empty view with the reason, never an exception."""
    step = max(settings.monitoring.prometheus.scrape_interval_s, window_s / 300)
    # 30 s over a day: 2,880 points a series; runs closer together than a step show as one.
    history_step = max(float(settings.monitoring.prometheus.scrape_interval_s), history_s / 2880)

    # One end for every range: the gate history joins its three ranges on evaluation time,
    # which only holds when they are evaluated at the same instants.
    now = time.time()

    def ranged(promql: str) -> list[RangeSeries]:
        return prometheus_api.query_range(settings, promql, window_s, step, end=now)

    def history(promql: str) -> list[RangeSeries]:
        return prometheus_api.query_range(settings, promql, history_s, history_step, end=now)

    try:
        return OpsView(
            window_s=window_s,
            ingest_rate=ranged(INGEST_RATE),
            lag=ranged(LAG),
            freshness=ranged(FRESHNESS),
            quarantine_share=ranged(QUARANTINE_SHARE),
            targets=sorted(prometheus_api.query(settings, TARGETS_UP), key=lambda s: s.labels.get("job", "")),
            firing=prometheus_api.query(settings, FIRING),
            gate_runs=gate_history(
                history(pipeline_metrics.LAST_RUN),
                history(pipeline_metrics.GATE_SUCCESS),
                history(pipeline_metrics.LAST_RUN_SUCCESS),
            ),
        )
    except LakehouseError as exc:  # Prometheus down or refusing: the page shows why and goes on
        return OpsView(window_s=window_s, problem=str(exc).splitlines()[0])


def as_frame(series: list[RangeSeries], label: str = "topic") -> pd.DataFrame:
    """Range series as one frame for a line chart: a time index, one column per ``label`` value."""
    columns = {
        (s.labels.get(label) or "all") if label else "all": pd.Series(
            [v for _, v in s.points],
            index=pd.to_datetime([t for t, _ in s.points], unit="s", utc=True),
        )
        for s in series
        if s.points
    }
    return pd.DataFrame(columns)


def alert_names(firing: list[Series]) -> list[str]:
    """Each firing alert as ``name`` or ``name (topic/job/gate)``, sorted."""
    names = []
    for alert in firing:
        where = alert.labels.get("topic") or alert.labels.get("gate") or alert.labels.get("job")
        name = alert.labels.get("alertname", "?")
        names.append(f"{name} ({where})" if where else name)
    return sorted(names)


def gate_table(runs: list[GateRun]) -> list[dict[str, str]]:
    """One row per run: when it ended, published or not, and each gate passed/failed/not run."""
    word = {True: "passed", False: "FAILED", None: "not run"}
    return [
        {
            "ended (UTC)": run.ended.strftime("%Y-%m-%d %H:%M:%S"),
            "run": "published" if run.published else "FAILED",
            **{f"{gate} gate": word[result] for gate, result in run.gates.items()},
        }
        for run in runs
    ]


def target_table(targets: list[Series]) -> list[dict[str, str]]:
    """One row per scrape target: its job, its address and up or DOWN."""
    return [
        {
            "service": t.labels.get("job", ""),
            "address": t.labels.get("instance", ""),
            "state": "up" if t.value == 1 else "DOWN",
        }
        for t in targets
    ]
