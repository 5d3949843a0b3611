"""The pipeline: raw gate -> dbt clean -> clean gate -> dbt analytics -> analytics gate ->
forecasts -> forecast gate -> publish.

Write-audit-publish (``app.publication``): layers are built as candidates and published, as views
readers query, only after every gate passed. A failed gate or step puts every candidate back to
its published snapshot, so readers never see an unaudited layer and the next run starts clean.

New raw rows are taken by commit: the run pins ``raw.cdr`` at its current snapshot and takes the
commits (``batch_id``) the clean layer has not checked - the raw gate judges exactly those rows.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from app.forecasts import ForecastReport, run_forecasts
from app.pipeline_lock import pipeline_lock
from app.pipeline_metrics import record_pipeline_run
from app.publication import Publication, publish, restore
from app.transform import cdr_checked_table, run_dbt
from core import clients
from core.contracts.raw_tables import REFERENCE_KEYS
from core.exceptions import GateFailedError, PrerequisiteError
from core.settings import LakehouseSettings
from expectations.gates import GateResult, run_gate
from expectations.suites import Thresholds, analytics_suites, clean_suites, forecast_suites, raw_suite
from forecasting.series import HORIZON_DAYS, METHODS

log = logging.getLogger(__name__)
PENDING_VIEW = "raw_cdr_pending"  # in settings.namespaces.quality


@dataclass
class PipelineReport:
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    publication: Publication | None = None
    # Every step that ran, failed ones too: (name, seconds, passed), for the metrics.
    outcomes: list[tuple[str, float, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class PendingRaw:
    """The raw rows a run takes: ``rows`` of the commits not yet checked, as of ``snapshot``."""

    rows: int
    snapshot: int


def prepare_pending_view(settings: LakehouseSettings) -> PendingRaw:
    """Pin raw.cdr at its current snapshot; a view of its commits not yet checked (what the raw
    gate judges and dbt then takes)."""
    catalog = clients.iceberg_catalog(settings)
    quality, raw = settings.namespaces.quality, settings.namespaces.raw
    cdr = f"{raw}.cdr"
    snapshot = catalog.load_table(cdr).metadata.current_snapshot_id if catalog.table_exists(cdr) else None
    if snapshot is None:
        raise PrerequisiteError(
            f"{cdr} holds no data yet: land some first (`make generate` or `make stream`)"
        )
    # The stream lands CDRs only; staging joins them to the reference tables `generate` loads.
    missing = [f"{raw}.{name}" for name in REFERENCE_KEYS if not catalog.table_exists(f"{raw}.{name}")]
    if missing:
        raise PrerequisiteError(
            f"{', '.join(missing)} do not exist yet: the stream lands CDRs only; load the reference "
            "data once with `make generate` (or `lakehouse generate`)"
        )
    checked = cdr_checked_table(settings)
    not_checked = (
        f" WHERE batch_id IS NULL OR batch_id NOT IN "
        f"(SELECT DISTINCT batch_id FROM {checked} WHERE batch_id IS NOT NULL)"
        if catalog.table_exists(checked)
        else ""
    )
    clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {quality}")
    clients.trino_query(
        settings,
        f"CREATE OR REPLACE VIEW {quality}.{PENDING_VIEW} AS "
        f"SELECT * FROM {cdr} FOR VERSION AS OF {snapshot}{not_checked}",
    )
    rows = int(clients.trino_query(settings, f"SELECT count(*) FROM {quality}.{PENDING_VIEW}")[0][0])
    return PendingRaw(rows, snapshot)


@dataclass(frozen=True)
class Steps:
    """What the pipeline runs: the real functions by default, recording fakes in unit tests."""

    lock: Callable[[LakehouseSettings], AbstractContextManager[None]] = pipeline_lock
    restore: Callable[[LakehouseSettings], list[str]] = restore
    prepare_pending: Callable[[LakehouseSettings], PendingRaw] = prepare_pending_view
    dbt: Callable[[LakehouseSettings, Sequence[str]], None] = run_dbt
    gate: Callable[[LakehouseSettings, str, dict[str, list], str], GateResult] = run_gate
    forecast: Callable[[LakehouseSettings], ForecastReport] = run_forecasts
    publish: Callable[[LakehouseSettings], Publication] = publish


def _restore_after_failure(settings: LakehouseSettings, say: Callable[[str], None], steps: Steps) -> None:
    """Restore now if we can; if a service is down too, the next run restores before it builds
    (readers are safe either way: their views pin the published snapshots)."""
    try:
        for change in steps.restore(settings):
            say(f"[restore] {change}")
    except Exception as error:  # noqa: BLE001 - the original failure is the one to report
        log.warning("candidates not restored yet (%s); the next run restores them first", error)


def _gate_forecasts(
    settings: LakehouseSettings, step: Callable[[str, Callable[[], object]], object], steps: Steps
) -> None:
    ns = settings.namespaces
    suites = forecast_suites(ns, HORIZON_DAYS, len(METHODS))
    step("forecast gate", lambda: _check(steps.gate(settings, "forecast", suites, ns.analytics_candidate)))


def _check(result: GateResult) -> GateResult:
    if not result.success:
        listing = "\n  ".join(result.failures)
        docs = f"\nData Docs: {result.docs}" if result.docs else ""
        raise GateFailedError(
            f"{result.gate} gate failed; nothing was published (readers keep the last good state):"
            f"\n  {listing}{docs}"
        )
    return result


def run_pipeline(
    settings: LakehouseSettings,
    thresholds: Thresholds | None = None,
    say: Callable[[str], None] = log.info,
    steps: Steps | None = None,
) -> PipelineReport:
    """Build and check every layer in order, holding the pipeline lock (one run at a time);
    raises GateFailedError / TransformError / PipelineBusyError."""
    steps = steps or Steps()
    with steps.lock(settings):
        report = PipelineReport()
        succeeded = False
        try:
            _run_locked(settings, thresholds or Thresholds(), say, steps, report)
            succeeded = True
        finally:
            record_pipeline_run(settings, report.outcomes, succeeded)
        return report


def _run_locked(
    settings: LakehouseSettings,
    thresholds: Thresholds,
    say: Callable[[str], None],
    steps: Steps,
    report: PipelineReport,
) -> None:
    ns = settings.namespaces

    def step(name: str, action: Callable[[], object]) -> object:
        began = time.perf_counter()
        say(f"[{name}] ...")
        try:
            outcome = action()
        except BaseException:
            report.outcomes.append((name, time.perf_counter() - began, False))
            raise
        report.outcomes.append((name, time.perf_counter() - began, True))
        detail = ""
        if isinstance(outcome, GateResult):
            report.gates.append(outcome)
            detail = f"{outcome.evaluated} expectations passed"
        report.steps.append((name, time.perf_counter() - began, detail))
        say(f"[{name}] done in {time.perf_counter() - began:.1f}s {detail}")
        return outcome

    for change in steps.restore(settings):  # a run killed earlier left candidates behind
        say(f"[restore] {change}")
    pending = steps.prepare_pending(settings)
    if pending.rows == 0:
        say("[raw gate] no new raw rows since the last run: nothing to judge")
    else:
        say(f"[raw gate] {pending.rows:,} new raw rows (raw.cdr snapshot {pending.snapshot})")
        step(
            "raw gate",
            lambda: _check(steps.gate(settings, "raw", {PENDING_VIEW: raw_suite(thresholds)}, ns.quality)),
        )
    pinned = ["--vars", json.dumps({"raw_cdr_snapshot": pending.snapshot})]
    try:
        # dbt selects by folder: staging/, intermediate/ and clean/ make the clean layer.
        step(
            "dbt build clean",
            lambda: steps.dbt(settings, ["build", *pinned, "--select", "staging", "intermediate", "clean"]),
        )
        step("clean gate", lambda: _check(steps.gate(settings, "clean", clean_suites(), ns.clean_candidate)))
        step("dbt build analytics", lambda: steps.dbt(settings, ["build", *pinned, "--select", "analytics"]))
        step(
            "analytics gate",
            lambda: _check(steps.gate(settings, "analytics", analytics_suites(ns), ns.analytics_candidate)),
        )
        # Forecasts read the audited marts and are published with them, after their own gate.
        forecast = step("forecast", lambda: steps.forecast(settings))
        if isinstance(forecast, ForecastReport) and forecast.history_end is None:
            say("[forecast gate] no whole day of traffic yet: nothing forecast, nothing to judge")
        else:
            _gate_forecasts(settings, step, steps)
    except BaseException:
        # Not published: every candidate back to what readers see, for the next run to redo.
        _restore_after_failure(settings, say, steps)
        raise
    report.publication = step("publish", lambda: steps.publish(settings))  # type: ignore[assignment]
    docs = next((g.docs for g in reversed(report.gates) if g.docs), None)
    if docs:
        say(f"Data Docs: {docs}")
