"""The pipeline: raw gate -> dbt clean -> clean gate -> dbt analytics -> analytics gate.

A gate that fails stops the run: the next layer is not built, so it keeps its last good state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from app.pipeline_lock import pipeline_lock
from app.transform import cdr_checked_table, run_dbt
from core import clients
from core.exceptions import GateFailedError
from core.settings import LakehouseSettings
from expectations.gates import GateResult, run_gate
from expectations.suites import Thresholds, analytics_suites, clean_suites, raw_suite

log = logging.getLogger(__name__)
PENDING_VIEW = "raw_cdr_pending"  # in settings.namespaces.quality


@dataclass
class PipelineReport:
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)


def _watermark(settings: LakehouseSettings) -> str:
    """Newest ingestion time already checked by the clean layer (epoch before the first run)."""
    try:
        rows = clients.trino_query(settings, f"SELECT max(ingested_at) FROM {cdr_checked_table(settings)}")
    except Exception:  # noqa: BLE001 - the table does not exist before the first build
        rows = [[None]]
    value = rows[0][0]
    return value.isoformat(sep=" ") if value is not None else "1970-01-01 00:00:00+00:00"


def prepare_pending_view(settings: LakehouseSettings) -> int:
    """A view of the raw CDRs not yet processed: what the raw gate judges. Returns its size."""
    watermark = _watermark(settings)
    quality, raw = settings.namespaces.quality, settings.namespaces.raw
    clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {quality}")
    clients.trino_query(
        settings,
        f"CREATE OR REPLACE VIEW {quality}.{PENDING_VIEW} AS SELECT * FROM {raw}.cdr "
        f"WHERE ingested_at > TIMESTAMP '{watermark}'",
    )
    return int(clients.trino_query(settings, f"SELECT count(*) FROM {quality}.{PENDING_VIEW}")[0][0])


@dataclass(frozen=True)
class Steps:
    """What the pipeline runs: the real functions by default, recording fakes in unit tests."""

    lock: Callable[[LakehouseSettings], AbstractContextManager[None]] = pipeline_lock
    prepare_pending: Callable[[LakehouseSettings], int] = prepare_pending_view
    dbt: Callable[[LakehouseSettings, Sequence[str]], None] = run_dbt
    gate: Callable[[LakehouseSettings, str, dict[str, list], str], GateResult] = run_gate


def _check(result: GateResult) -> GateResult:
    if not result.success:
        listing = "\n  ".join(result.failures)
        docs = f"\nData Docs: {result.docs}" if result.docs else ""
        raise GateFailedError(f"{result.gate} gate failed; the next layer was not built:\n  {listing}{docs}")
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
        return _run_locked(settings, thresholds or Thresholds(), say, steps)


def _run_locked(
    settings: LakehouseSettings, thresholds: Thresholds, say: Callable[[str], None], steps: Steps
) -> PipelineReport:
    ns = settings.namespaces
    report = PipelineReport()

    def step(name: str, action: Callable[[], object]) -> object:
        began = time.perf_counter()
        say(f"[{name}] ...")
        outcome = action()
        detail = ""
        if isinstance(outcome, GateResult):
            report.gates.append(outcome)
            detail = f"{outcome.evaluated} expectations passed"
        report.steps.append((name, time.perf_counter() - began, detail))
        say(f"[{name}] done in {time.perf_counter() - began:.1f}s {detail}")
        return outcome

    pending = steps.prepare_pending(settings)
    if pending == 0:
        say("[raw gate] no new raw rows since the last run: nothing to judge")
    else:
        say(f"[raw gate] {pending:,} new raw rows")
        step(
            "raw gate",
            lambda: _check(steps.gate(settings, "raw", {PENDING_VIEW: raw_suite(thresholds)}, ns.quality)),
        )
    # dbt selects by folder: staging/, intermediate/ and clean/ make the clean layer.
    step(
        "dbt build clean",
        lambda: steps.dbt(settings, ["build", "--select", "staging", "intermediate", "clean"]),
    )
    step("clean gate", lambda: _check(steps.gate(settings, "clean", clean_suites(), ns.clean)))
    step("dbt build analytics", lambda: steps.dbt(settings, ["build", "--select", "analytics"]))
    step(
        "analytics gate",
        lambda: _check(steps.gate(settings, "analytics", analytics_suites(ns), ns.analytics)),
    )
    docs = next((g.docs for g in reversed(report.gates) if g.docs), None)
    if docs:
        say(f"Data Docs: {docs}")
    return report
