"""Real-time alerts: KPIs per cell and window, and the rules that judge them against a baseline."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pyspark.sql import functions as F

from core.contracts.stream_tables import ALERT_SCHEMA, CELL_WINDOW_SCHEMA
from core.settings import AlertSettings
from ingestion.streaming.alerts import cell_windows, judge
from tests.unit.ingestion.streaming.kafka_records import MISSING, kafka_records, message

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RULES = AlertSettings(
    window_seconds=60,
    lateness_seconds=0,
    min_attempts=10,
    failure_rate=0.5,
    drop_rate=0.25,
    traffic_drop_ratio=0.5,
    baseline_windows=4,
)
T0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
NOW = 10  # the window being judged, in windows after T0
WINDOWS_SCHEMA = ", ".join(
    [
        "network_element_id string",
        "window_start timestamp",
        "window_end timestamp",
        "events bigint",
        "attempts bigint",
        "failed bigint",
        "answered bigint",
        "dropped bigint",
        "computed_at timestamp",
    ]
)
HISTORY_SCHEMA = "network_element_id string, window_start timestamp, attempts bigint"


def _start(k: int, rules: AlertSettings = RULES) -> datetime:
    return T0 + timedelta(seconds=k * rules.window_seconds)


def _window(
    cell: str, k: int = NOW, attempts: int = 0, failed: int = 0, answered: int = 0, dropped: int = 0
) -> tuple:
    start = _start(k)
    end = start + timedelta(seconds=RULES.window_seconds)
    return (cell, start, end, attempts + 3, attempts, failed, answered, dropped, end)


def _alerts(
    spark: SparkSession, windows: list[tuple], history: list[tuple], rules: AlertSettings = RULES
) -> list[dict[str, Any]]:
    frame = judge(
        spark.createDataFrame(windows, WINDOWS_SCHEMA), spark.createDataFrame(history, HISTORY_SCHEMA), rules
    )
    # Times as epoch seconds: no local-zone conversion on the way to Python.
    times = {"window_start", "window_end", "raised_at"}
    columns = [F.unix_seconds(c).alias(c) if c in times else F.col(c) for c in frame.columns]
    return [row.asDict() for row in frame.select(*columns).collect()]


def _types_by_cell(alerts: list[dict[str, Any]]) -> dict[str, set[str]]:
    fired: dict[str, set[str]] = {}
    for alert in alerts:
        fired.setdefault(alert["network_element_id"], set()).add(alert["alert_type"])
    return fired


def _baseline(cell: str, attempts: list[int], first: int) -> list[tuple]:
    """History rows of ``cell``: ``attempts`` in consecutive windows from window ``first``."""
    return [(cell, _start(first + i), n) for i, n in enumerate(attempts)]


# Each cell is one case: its window now, its history, and the alerts it must raise.
RATE_CASES: dict[str, tuple[dict[str, int], set[str]]] = {
    "fail-at-threshold": ({"attempts": 10, "failed": 5}, {"failure_spike"}),
    "fail-below-threshold": ({"attempts": 10, "failed": 4}, set()),
    "fail-everything-quiet": ({"attempts": 9, "failed": 9}, set()),
    "fail-everything": ({"attempts": 10, "failed": 10}, {"failure_spike"}),
    "drop-at-threshold": ({"attempts": 20, "answered": 20, "dropped": 5}, {"drop_spike"}),
    "drop-below-threshold": ({"attempts": 20, "answered": 20, "dropped": 4}, set()),
    "drop-everything-quiet": ({"attempts": 30, "answered": 9, "dropped": 9}, set()),
    "fail-and-drop": (
        {"attempts": 20, "failed": 10, "answered": 10, "dropped": 10},
        {"failure_spike", "drop_spike"},
    ),
    "data-only": ({}, set()),  # no attempts, no answered calls: no division by zero either
}
TRAFFIC_CASES: dict[str, tuple[int, list[tuple], set[str]]] = {
    # cell: (attempts now, history, alerts)
    "traffic-below-ratio": (19, _baseline("traffic-below-ratio", [40, 40, 40], NOW - 3), {"traffic_drop"}),
    "traffic-at-ratio": (20, _baseline("traffic-at-ratio", [40, 40, 40], NOW - 3), set()),
    "traffic-two-windows-only": (0, _baseline("traffic-two-windows-only", [40, 40], NOW - 2), set()),
    "traffic-quiet-baseline": (0, _baseline("traffic-quiet-baseline", [9, 9, 9, 9], NOW - 4), set()),
    # The baseline spans baseline_windows windows back: window NOW-4 is the oldest counted.
    "traffic-edge-of-span": (10, _baseline("traffic-edge-of-span", [40, 40, 40], NOW - 4), {"traffic_drop"}),
    "traffic-too-old": (0, _baseline("traffic-too-old", [40, 40, 40], NOW - 7), set()),
    # Only earlier windows: the window itself (history holds it too) and later ones do not count.
    "traffic-later-only": (0, _baseline("traffic-later-only", [0, 40, 40, 40], NOW), set()),
    "traffic-self-in-history": (
        19,
        _baseline("traffic-self-in-history", [40, 40, 40, 19], NOW - 3),
        {"traffic_drop"},
    ),
    "traffic-mean-with-a-silent-window": (
        19,
        _baseline("traffic-mean-with-a-silent-window", [100, 20, 0], NOW - 3),
        {"traffic_drop"},
    ),
    "traffic-no-history": (0, [], set()),  # other cells' history is not its baseline
}


@pytest.fixture(scope="module")
def judged(spark: SparkSession) -> list[dict[str, Any]]:
    windows = [_window(cell, **counts) for cell, (counts, _) in RATE_CASES.items()]
    windows += [_window(cell, attempts=n) for cell, (n, _, _) in TRAFFIC_CASES.items()]
    history = [row for _, rows, _ in TRAFFIC_CASES.values() for row in rows]
    return _alerts(spark, windows, history)


@pytest.mark.parametrize("cell", list(RATE_CASES) + list(TRAFFIC_CASES))
def test_rules_fire_exactly_where_they_should(cell: str, judged: list[dict[str, Any]]) -> None:
    expected = RATE_CASES[cell][1] if cell in RATE_CASES else TRAFFIC_CASES[cell][2]
    assert _types_by_cell(judged).get(cell, set()) == expected


def test_an_alert_carries_what_it_measured(judged: list[dict[str, Any]]) -> None:
    by_key = {(a["network_element_id"], a["alert_type"]): a for a in judged}
    failure = by_key["fail-at-threshold", "failure_spike"]
    assert (failure["attempts"], failure["observed"], failure["threshold"]) == (
        10,
        5 / 10,
        RULES.failure_rate,
    )
    drop = by_key["drop-at-threshold", "drop_spike"]
    assert (drop["observed"], drop["threshold"]) == (5 / 20, RULES.drop_rate)
    traffic = by_key["traffic-below-ratio", "traffic_drop"]
    assert (traffic["observed"], traffic["baseline_attempts"]) == (19.0, 40.0)
    assert traffic["threshold"] == pytest.approx(40 * RULES.traffic_drop_ratio)
    assert by_key["traffic-edge-of-span", "traffic_drop"]["baseline_attempts"] == 40.0
    assert by_key["traffic-self-in-history", "traffic_drop"]["baseline_attempts"] == 40.0
    assert by_key["traffic-mean-with-a-silent-window", "traffic_drop"]["baseline_attempts"] == 40.0
    start = int(_start(NOW).timestamp())
    assert {(a["window_start"], a["window_end"]) for a in judged} == {(start, start + RULES.window_seconds)}


def test_alerts_have_the_alert_table_columns(spark: SparkSession) -> None:
    frame = judge(
        spark.createDataFrame([_window("c", attempts=10, failed=10)], WINDOWS_SCHEMA),
        spark.createDataFrame([], HISTORY_SCHEMA),
        RULES,
    )
    assert frame.columns == ALERT_SCHEMA.names


def test_a_baseline_of_fewer_windows_needs_only_that_many(spark: SparkSession) -> None:
    rules = RULES.model_copy(update={"baseline_windows": 2})
    windows = [_window("two-enough", attempts=19), _window("span-of-two", attempts=19)]
    history = _baseline("two-enough", [40, 40], NOW - 2) + _baseline("span-of-two", [1000, 40, 40], NOW - 3)
    alerts = {a["network_element_id"]: a for a in _alerts(spark, windows, history, rules)}
    assert set(alerts) == {"two-enough", "span-of-two"}
    assert {a["alert_type"] for a in alerts.values()} == {"traffic_drop"}
    assert alerts["span-of-two"]["baseline_attempts"] == 40.0  # window NOW-3 is outside the span


def test_no_windows_no_alerts(spark: SparkSession) -> None:
    assert _alerts(spark, [], _baseline("c", [40, 40, 40], NOW - 3)) == []


# --- Alert ids ------------------------------------------------------------------------------------

ID_WINDOWS = [
    _window("cell-a", attempts=20, failed=10, answered=10, dropped=10),  # two rules, one window
    _window("cell-a", k=NOW + 1, attempts=20, failed=10),  # same rule, next window
    _window("cell-b", attempts=20, failed=10),  # same rule and window, another cell
]


def test_alert_ids_are_deterministic(spark: SparkSession) -> None:
    def ids(windows: list[tuple]) -> dict[tuple, str]:
        alerts = _alerts(spark, windows, [])
        return {(a["alert_type"], a["network_element_id"], a["window_start"]): a["alert_id"] for a in alerts}

    first, replay = ids(ID_WINDOWS), ids(list(reversed(ID_WINDOWS)))
    assert len(first) == 4
    assert first == replay
    # Judged on its own, a window keeps its ids.
    alone = ids([ID_WINDOWS[2]])
    assert alone.items() <= first.items()


def test_alert_ids_differ_by_rule_cell_and_window(spark: SparkSession) -> None:
    alerts = _alerts(spark, ID_WINDOWS, [])
    ids = Counter(a["alert_id"] for a in alerts)
    assert len(alerts) == 4
    assert all(isinstance(i, str) and i for i in ids)
    assert max(ids.values()) == 1, ids


# --- Windows from Kafka records --------------------------------------------------------------------

# (start_time, cell, record_type, result); other fields as in a valid message.
EVENTS = [
    ("2026-01-02T12:00:00Z", "X", "voice", "answered"),
    ("2026-01-02T12:00:10.5Z", "X", "voice", "dropped"),
    ("2026-01-02T12:00:20Z", "X", "voice", "failed"),
    ("2026-01-02T12:00:30Z", "X", "voice", "busy"),
    ("2026-01-02T12:00:40Z", "X", "sms", "failed"),
    ("2026-01-02T12:00:59.999999Z", "X", "sms", "delivered"),
    ("2026-01-02T12:00:50Z", "X", "data", "completed"),
    ("2026-01-02T12:00:55Z", "X", "data", "failed"),  # not an attempt: no failed attempt either
    ("2026-01-02T13:01:00+01:00", "X", "voice", "answered"),  # 12:01:00 UTC: the next window
    ("2026-01-02T12:00:05Z", "Y", "voice", "no_answer"),
    ("2026-01-02T12:01:05Z", "Y", "voice", "dropped"),
]
# A message the CDR query rejects for another field still counts on its cell.
COUNTED_ANYWAY = [message(start_time="2026-01-02T12:01:30Z", network_element_id="Y", duration_s="long")]
COUNTED_ANYWAY_EVENT = ("2026-01-02T12:01:30Z", "Y", "voice", "answered")
NOT_COUNTED = [
    message(schema_version=2),
    message(record_id=MISSING),
    message(start_time="2026-01-02T12:00:00"),  # no zone
    message(start_time=None),
    message(network_element_id=None),
    b"not json",
    None,
]


def _expected_windows(events: list[tuple[str, str, str, str]]) -> dict[tuple[str, int], dict[str, int]]:
    """The KPIs by the documented rules, computed here event by event."""
    windows: dict[tuple[str, int], Counter[str]] = {}
    for start_time, cell, record_type, result in events:
        instant = int(datetime.fromisoformat(start_time).timestamp())
        counts = windows.setdefault((cell, instant - instant % RULES.window_seconds), Counter())
        attempt = record_type in ("voice", "sms")
        counts["events"] += 1
        counts["attempts"] += attempt
        counts["failed"] += attempt and result == "failed"
        counts["answered"] += record_type == "voice" and result in ("answered", "dropped")
        counts["dropped"] += record_type == "voice" and result == "dropped"
    keys = ("events", "attempts", "failed", "answered", "dropped")
    return {window: {k: counts[k] for k in keys} for window, counts in windows.items()}


def _windows(frame: DataFrame) -> list[dict[str, Any]]:
    columns = [
        F.unix_seconds(c).alias(c) if c in ("window_start", "window_end", "computed_at") else F.col(c)
        for c in frame.columns
    ]
    return [row.asDict() for row in frame.select(*columns).collect()]


def test_cell_windows_count_the_kpis_of_each_window(spark: SparkSession) -> None:
    values = [
        message(record_id=f"r-{i}", start_time=t, network_element_id=cell, record_type=kind, result=result)
        for i, (t, cell, kind, result) in enumerate(EVENTS)
    ]
    frame = cell_windows(kafka_records(spark, values + COUNTED_ANYWAY + NOT_COUNTED), RULES)
    assert frame.columns == CELL_WINDOW_SCHEMA.names
    rows = _windows(frame)
    got = {
        (r["network_element_id"], r["window_start"]): {
            k: r[k] for k in ("events", "attempts", "failed", "answered", "dropped")
        }
        for r in rows
    }
    assert got == _expected_windows([*EVENTS, COUNTED_ANYWAY_EVENT])
    assert len(rows) == len(got) == 4
    assert all(r["window_end"] - r["window_start"] == RULES.window_seconds for r in rows)


def test_the_counted_anyway_message_is_the_one_described() -> None:
    event = json.loads(COUNTED_ANYWAY[0])
    assert (event["start_time"], event["network_element_id"], event["record_type"], event["result"]) == (
        COUNTED_ANYWAY_EVENT
    )


# Issue 12: such a time matched TIMESTAMP_PATTERN, then the ANSI cast raised and failed the batch.
@pytest.mark.parametrize("start_time", ["2026-02-30T10:00:00Z", "2026-01-02T25:61:00Z"])
def test_an_impossible_start_time_is_skipped_not_fatal(spark: SparkSession, start_time: str) -> None:
    values = [message(start_time="2026-01-02T12:00:00Z"), message(record_id="bad", start_time=start_time)]
    rows = _windows(cell_windows(kafka_records(spark, values), RULES))
    assert [r["events"] for r in rows] == [1]
