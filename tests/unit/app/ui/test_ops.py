"""The Operations tab's logic on built series: gate history, tables, frames, headline numbers."""

from __future__ import annotations

from app.ui import ops
from core.prometheus_api import RangeSeries, Series


def _gate(name: str, points: list[tuple[float, float]]) -> RangeSeries:
    return RangeSeries({"gate": name}, points)


def test_each_pipeline_run_appears_once_with_its_gates_in_layer_order() -> None:
    # Three evaluation times: run A (all passed) seen twice, then run B whose clean gate failed,
    # so its analytics gate never ran (its series went stale: no point at t=120).
    last_run = [RangeSeries({}, [(0.0, 1000.0), (60.0, 1000.0), (120.0, 2000.0)])]
    gates = [
        _gate("forecast", [(0.0, 1), (60.0, 1)]),  # not a layer: after the layers' gates
        _gate("analytics", [(0.0, 1), (60.0, 1)]),
        _gate("raw", [(0.0, 1), (60.0, 1), (120.0, 1)]),
        _gate("clean", [(0.0, 1), (60.0, 1), (120.0, 0)]),
    ]
    outcome = [RangeSeries({}, [(0.0, 1), (60.0, 1), (120.0, 0)])]
    runs = ops.gate_history(last_run, gates, outcome)
    assert [r.ended.timestamp() for r in runs] == [2000.0, 1000.0]  # newest first, each once
    assert list(runs[0].gates) == ["raw", "clean", "analytics", "forecast"]
    assert runs[0].gates == {"raw": True, "clean": False, "analytics": None, "forecast": None}
    assert (runs[0].published, runs[1].published) == (False, True)
    table = ops.gate_table(runs)
    assert table[0]["run"] == "FAILED" and table[0]["clean gate"] == "FAILED"
    assert table[0]["analytics gate"] == "not run" and table[1]["analytics gate"] == "passed"


def test_no_run_seen_is_an_empty_history() -> None:
    assert ops.gate_history([], [], []) == []


def test_headline_numbers_sum_topics_and_take_the_stalest_freshness() -> None:
    rates = [RangeSeries({"topic": "a"}, [(0, 5.0), (5, 10.0)]), RangeSeries({"topic": "b"}, [(5, 2.5)])]
    assert ops.latest(rates) == 12.5
    assert ops.oldest_latest(rates) == 10.0
    assert ops.latest([RangeSeries({"topic": "a"}, [])]) is None
    assert ops.oldest_latest([]) is None


def test_a_frame_has_one_column_per_topic_on_a_time_index() -> None:
    frame = ops.as_frame(
        [RangeSeries({"topic": "a"}, [(0, 1.0), (5, 2.0)]), RangeSeries({"topic": "b"}, [(5, 3.0)])]
    )
    assert list(frame.columns) == ["a", "b"]
    assert frame.index.tz is not None and len(frame) == 2
    assert frame["b"].isna().sum() == 1  # b had no point at t=0
    assert ops.as_frame([RangeSeries({}, [(0, 0.1)])], label="").columns.tolist() == ["all"]
    assert ops.as_frame([]).empty


def test_alerts_and_targets_read_as_names_and_states() -> None:
    firing = [
        Series({"alertname": "StreamStalled", "topic": "cdr.events"}, 1),
        Series({"alertname": "GateFailed", "gate": "raw"}, 1),
        Series({"alertname": "ServiceDown", "job": "postgres"}, 1),
    ]
    assert ops.alert_names(firing) == [
        "GateFailed (raw)",
        "ServiceDown (postgres)",
        "StreamStalled (cdr.events)",
    ]
    targets = [Series({"job": "trino", "instance": "127.0.0.1:8443"}, 1), Series({"job": "minio"}, 0)]
    assert [t["state"] for t in ops.target_table(targets)] == ["up", "DOWN"]
    assert ops.OpsView(window_s=60, targets=targets).targets_up == 1
