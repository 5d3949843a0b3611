"""The pipeline: raw gate -> dbt clean -> clean gate -> dbt analytics -> analytics gate.

A gate that fails stops the run: the next layer is not built, so it keeps its last good state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.transform import run_dbt
from core import clients
from core.exceptions import GateFailedError
from core.settings import LakehouseSettings
from expectations.gates import GateResult, run_gate
from expectations.suites import Thresholds, analytics_suites, clean_suites, raw_suite

log = logging.getLogger(__name__)
QUALITY_SCHEMA = "quality"
PENDING_VIEW = "raw_cdr_pending"


@dataclass
class PipelineReport:
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)


def _watermark(settings: LakehouseSettings) -> str:
    """Newest ingestion time already checked by the clean layer (epoch before the first run)."""
    try:
        rows = clients.trino_query(settings, "SELECT max(ingested_at) FROM clean.int_cdr_checked")
    except Exception:  # noqa: BLE001 - the table does not exist before the first build
        rows = [[None]]
    value = rows[0][0]
    return value.isoformat(sep=" ") if value is not None else "1970-01-01 00:00:00+00:00"


def prepare_pending_view(settings: LakehouseSettings, raw_schema: str = "raw") -> int:
    """A view of the raw CDRs not yet processed: what the raw gate judges. Returns its size."""
    watermark = _watermark(settings)
    clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {QUALITY_SCHEMA}")
    clients.trino_query(
        settings,
        f"CREATE OR REPLACE VIEW {QUALITY_SCHEMA}.{PENDING_VIEW} AS SELECT * FROM {raw_schema}.cdr "
        f"WHERE ingested_at > TIMESTAMP '{watermark}'",
    )
    return int(clients.trino_query(settings, f"SELECT count(*) FROM {QUALITY_SCHEMA}.{PENDING_VIEW}")[0][0])


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
) -> PipelineReport:
    """Build and check every layer in order; raises GateFailedError / TransformError."""
    thresholds = thresholds or Thresholds()
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

    pending = prepare_pending_view(settings)
    if pending == 0:
        say("[raw gate] no new raw rows since the last run: nothing to judge")
    else:
        say(f"[raw gate] {pending:,} new raw rows")
        step(
            "raw gate",
            lambda: _check(run_gate(settings, "raw", {PENDING_VIEW: raw_suite(thresholds)}, QUALITY_SCHEMA)),
        )
    step("dbt build clean", lambda: run_dbt(settings, ["build", "--select", "staging", "clean"]))
    step("clean gate", lambda: _check(run_gate(settings, "clean", clean_suites(), "clean")))
    step("dbt build analytics", lambda: run_dbt(settings, ["build", "--select", "analytics"]))
    step("analytics gate", lambda: _check(run_gate(settings, "analytics", analytics_suites(), "analytics")))
    docs = next((g.docs for g in reversed(report.gates) if g.docs), None)
    if docs:
        say(f"Data Docs: {docs}")
    return report
