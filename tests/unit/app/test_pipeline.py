"""Pipeline step order and stops, without the stack: the steps are recording fakes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from app.forecasts import ForecastReport
from app.pipeline import PENDING_VIEW, PendingRaw, Steps, run_pipeline
from app.publication import Publication
from core.exceptions import GateFailedError
from core.run_metrics import read_samples
from core.settings import LakehouseSettings, load_settings
from expectations.gates import GateResult


class Recorder:
    """Steps that record what ran, in order; a gate named in ``failing`` fails."""

    def __init__(self, pending: int = 100, failing: frozenset[str] = frozenset()) -> None:
        self.pending = pending
        self.failing = failing
        self.calls: list[str] = []
        self.gate_schemas: dict[str, str] = {}
        self.dbt_vars: list[str] = []

    def prepare_pending(self, settings: LakehouseSettings) -> PendingRaw:
        self.calls.append("prepare pending")
        return PendingRaw(self.pending, snapshot=42)

    def restore(self, settings: LakehouseSettings) -> list[str]:
        self.calls.append("restore")
        return []

    def publish(self, settings: LakehouseSettings) -> Publication:
        self.calls.append("publish")
        return Publication(1, {})

    def forecast(self, settings: LakehouseSettings) -> ForecastReport:
        self.calls.append("forecast")
        return ForecastReport({"forecast_region_daily": 448}, "2026-01-01")

    def dbt(self, settings: LakehouseSettings, args: Sequence[str]) -> None:
        selected = args[args.index("--select") + 1 :]
        self.calls.append(f"dbt {args[0]} {' '.join(selected)}")
        self.dbt_vars.append(args[args.index("--vars") + 1])

    def gate(
        self, settings: LakehouseSettings, gate: str, tables: dict[str, list], schema: str
    ) -> GateResult:
        self.calls.append(f"{gate} gate")
        self.gate_schemas[gate] = schema
        ok = gate not in self.failing
        return GateResult(gate, ok, failures=[] if ok else [f"{gate}: a rule broke"], evaluated=len(tables))

    @contextmanager
    def lock(self, settings: LakehouseSettings) -> Iterator[None]:
        self.calls.append("lock")
        try:
            yield
        finally:
            self.calls.append("unlock")

    def steps(self) -> Steps:
        return Steps(
            lock=self.lock,
            restore=self.restore,
            prepare_pending=self.prepare_pending,
            dbt=self.dbt,
            gate=self.gate,
            forecast=self.forecast,
            publish=self.publish,
        )


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(
        env_file=None, home=tmp_path, namespaces={"clean_candidate": "gold_candidate", "quality": "checks"}
    )


def _metrics(settings: LakehouseSettings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = read_samples(settings)["pipeline"]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


def test_a_failed_gate_is_left_as_metrics_and_the_last_success_is_kept(settings: LakehouseSettings) -> None:
    run_pipeline(settings, say=lambda _: None, steps=Recorder().steps())
    succeeded_at = _metrics(settings)[("lakehouse_pipeline_last_success_timestamp_seconds", ())]
    with pytest.raises(GateFailedError):
        run_pipeline(settings, say=lambda _: None, steps=Recorder(failing=frozenset({"clean"})).steps())
    metrics = _metrics(settings)
    assert metrics[("lakehouse_pipeline_gate_success", (("gate", "raw"),))] == 1.0
    assert metrics[("lakehouse_pipeline_gate_success", (("gate", "clean"),))] == 0.0
    assert ("lakehouse_pipeline_gate_success", (("gate", "analytics"),)) not in metrics  # never ran
    assert metrics[("lakehouse_pipeline_last_run_success", ())] == 0.0
    assert metrics[("lakehouse_pipeline_last_success_timestamp_seconds", ())] == succeeded_at
    assert metrics[("lakehouse_pipeline_last_run_timestamp_seconds", ())] >= succeeded_at


def test_layers_are_built_and_gated_in_order(settings: LakehouseSettings) -> None:
    recorder = Recorder()
    report = run_pipeline(settings, say=lambda _: None, steps=recorder.steps())
    # Everything happens inside the pipeline lock.
    assert recorder.calls == [
        "lock",
        "restore",
        "prepare pending",
        "raw gate",
        "dbt build staging intermediate clean",
        "clean gate",
        "dbt build analytics",
        "analytics gate",
        "forecast",
        "forecast gate",
        "publish",
        "unlock",
    ]
    assert [name for name, _, _ in report.steps] == [
        "raw gate",
        "dbt build clean",
        "clean gate",
        "dbt build analytics",
        "analytics gate",
        "forecast",
        "forecast gate",
        "publish",
    ]
    assert [gate.gate for gate in report.gates] == ["raw", "clean", "analytics", "forecast"]
    # Each gate judges its layer's candidates, in the namespaces the settings give.
    assert recorder.gate_schemas == {
        "raw": "checks",
        "clean": "gold_candidate",
        "analytics": "analytics_candidate",
        "forecast": "analytics_candidate",  # forecasts are published with the marts they read
    }
    # dbt reads raw.cdr at the snapshot the raw gate judged.
    assert recorder.dbt_vars == ['{"raw_cdr_snapshot": 42}'] * 2
    assert report.publication == Publication(1, {})


def test_a_failing_clean_gate_stops_before_analytics_is_built(settings: LakehouseSettings) -> None:
    recorder = Recorder(failing=frozenset({"clean"}))
    with pytest.raises(GateFailedError, match="clean gate failed") as raised:
        run_pipeline(settings, say=lambda _: None, steps=recorder.steps())
    assert "a rule broke" in str(raised.value)
    # The candidates go back to the published state; nothing is published.
    assert recorder.calls[-3:] == ["clean gate", "restore", "unlock"]
    assert not any("analytics" in call for call in recorder.calls)
    assert "publish" not in recorder.calls


def test_a_failing_analytics_gate_publishes_nothing_and_restores(settings: LakehouseSettings) -> None:
    recorder = Recorder(failing=frozenset({"analytics"}))
    with pytest.raises(GateFailedError, match="analytics gate failed"):
        run_pipeline(settings, say=lambda _: None, steps=recorder.steps())
    assert recorder.calls[-3:] == ["analytics gate", "restore", "unlock"]
    assert "publish" not in recorder.calls and "forecast" not in recorder.calls


def test_a_failing_forecast_gate_publishes_nothing_and_restores(settings: LakehouseSettings) -> None:
    recorder = Recorder(failing=frozenset({"forecast"}))
    with pytest.raises(GateFailedError, match="forecast gate failed"):
        run_pipeline(settings, say=lambda _: None, steps=recorder.steps())
    assert recorder.calls[-4:] == ["forecast", "forecast gate", "restore", "unlock"]
    assert "publish" not in recorder.calls


def test_no_whole_day_to_forecast_from_skips_the_forecast_gate_and_still_publishes(
    settings: LakehouseSettings,
) -> None:
    recorder = Recorder()
    steps = dataclasses.replace(recorder.steps(), forecast=lambda _: ForecastReport({}, None))
    said: list[str] = []
    run_pipeline(settings, say=said.append, steps=steps)
    assert "forecast gate" not in recorder.calls and recorder.calls[-2:] == ["publish", "unlock"]
    assert any("no whole day of traffic yet" in line for line in said)


def test_a_failed_restore_after_a_failure_reports_the_first_failure(settings: LakehouseSettings) -> None:
    recorder = Recorder(failing=frozenset({"clean"}))

    def broken_restore(settings: LakehouseSettings) -> list[str]:
        recorder.calls.append("restore")
        if recorder.calls.count("restore") > 1:
            raise ConnectionError("trino is down")
        return []

    steps = dataclasses.replace(recorder.steps(), restore=broken_restore)
    with pytest.raises(GateFailedError, match="clean gate failed"):
        run_pipeline(settings, say=lambda _: None, steps=steps)


def test_a_failing_raw_gate_builds_nothing(settings: LakehouseSettings) -> None:
    recorder = Recorder(failing=frozenset({"raw"}))
    with pytest.raises(GateFailedError, match="raw gate failed"):
        run_pipeline(settings, say=lambda _: None, steps=recorder.steps())
    assert recorder.calls == ["lock", "restore", "prepare pending", "raw gate", "unlock"]


def test_no_pending_raw_rows_skips_the_raw_gate_but_still_builds(settings: LakehouseSettings) -> None:
    recorder = Recorder(pending=0)
    said: list[str] = []
    run_pipeline(settings, say=said.append, steps=recorder.steps())
    assert recorder.calls == [
        "lock",
        "restore",
        "prepare pending",
        "dbt build staging intermediate clean",
        "clean gate",
        "dbt build analytics",
        "analytics gate",
        "forecast",
        "forecast gate",
        "publish",
        "unlock",
    ]
    assert any("nothing to judge" in line for line in said)


def test_the_raw_gate_judges_the_pending_view(settings: LakehouseSettings) -> None:
    seen: dict[str, list[str]] = {}

    def gate(settings: LakehouseSettings, gate: str, tables: dict[str, list], schema: str) -> GateResult:
        seen[gate] = list(tables)
        return GateResult(gate, True)

    run_pipeline(
        settings,
        say=lambda _: None,
        steps=Steps(
            lock=lambda _: nullcontext(),
            restore=lambda _: [],
            prepare_pending=lambda _: PendingRaw(1, snapshot=7),
            dbt=lambda *_: None,
            gate=gate,
            forecast=lambda _: ForecastReport({"forecast_region_daily": 448}, "2026-01-01"),
            publish=lambda _: Publication(1, {}),
        ),
    )
    assert seen["raw"] == [PENDING_VIEW]
    assert "voice_calls" in seen["clean"]
    assert "kpi_cell_hourly" in seen["analytics"]
    assert "forecast_region_daily" in seen["forecast"]
