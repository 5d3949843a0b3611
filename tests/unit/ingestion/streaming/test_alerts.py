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
from ingestion.streaming.alerts import MIN_TYPICAL_RATE, cell_windows, judge
from tests.unit.ingestion.streaming.kafka_records import MISSING, kafka_records, message

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RULES = AlertSettings(
    window_seconds=60,
    lateness_seconds=0,
    min_failures=5,
    failure_points=0.12,
    failure_sigmas=5,
    drop_rate=0.25,
    min_answered=10,
    drop_sigmas=4,
    traffic_drop_ratio=0.5,
    traffic_drop_sigmas=3,
    min_expected_attempts=20,
    baseline_days=2,
)
T0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
DAY = 1440  # windows of a minute in a day
NOW = 2 * DAY  # the window being judged, in windows after T0: two days of history before it
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
HISTORY_SCHEMA = (
    "network_element_id string, window_start timestamp, attempts bigint, failed bigint, answered bigint,"
    " dropped bigint"
)


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


def _past(
    cell: str, k: int, attempts: int, days: tuple[int, ...] = (1, 2), around: tuple[int, ...] = (-1, 0, 1)
):
    """History rows of ``cell``: ``attempts`` at window ``k``'s time of day (and its neighbours
    ``around``) on each of ``days`` before."""
    return [(cell, _start(k - d * DAY + a), attempts, 0, 0, 0) for d in days for a in around]


# Rates: judged on the window alone, against the cell's typical failed share (history rows anywhere
# in the span; none: the floor). Each cell is one case: its window now, its history, its alerts.
TYPICAL_10PCT = [("fails-10pct", _start(NOW - 60 * i), 100, 10, 0, 0) for i in range(1, 6)]
RATE_CASES: dict[str, tuple[dict[str, int], list[tuple], set[str]]] = {
    "fail-five": ({"attempts": 10, "failed": 5}, [], {"failure_spike"}),
    "fail-four": ({"attempts": 4, "failed": 4}, [], set()),  # under min_failures: noise
    "fail-everything": ({"attempts": 10, "failed": 10}, [], {"failure_spike"}),
    "fail-20pct-on-a-clean-cell": ({"attempts": 100, "failed": 20}, [], {"failure_spike"}),
    # 20% is under its typical 10% + 12 points; 30% of 40 is over them, but not 5 sigmas over.
    "fails-10pct": ({"attempts": 100, "failed": 20}, TYPICAL_10PCT, set()),
    "drop-at-threshold": ({"attempts": 20, "answered": 20, "dropped": 5}, [], {"drop_spike"}),
    "drop-below-threshold": ({"attempts": 20, "answered": 20, "dropped": 4}, [], set()),
    "drop-everything-quiet": ({"attempts": 30, "answered": 9, "dropped": 9}, [], set()),
    "fail-and-drop": (
        {"attempts": 20, "failed": 10, "answered": 10, "dropped": 10},
        [],
        {"failure_spike", "drop_spike"},
    ),
    "data-only": ({}, [], set()),  # no attempts, no answered calls: no division by zero either
}
RATE_CASES["fails-10pct-not-significant"] = (
    {"attempts": 40, "failed": 12},
    [(c.replace("fails-10pct", "fails-10pct-not-significant"), *rest) for c, *rest in TYPICAL_10PCT],
    set(),
)


# Traffic: each case has its own minute (ten apart, so no case is another's time of day), a cell
# and its neighbour; the baseline is the cell's share of the network's attempts at that time of
# day on the days before. Case: (cell now, neighbour now, the cell's history, alerts on the cell);
# the neighbour's history mirrors the cell's (40 each: a share of a half).
def _k(case: int) -> int:
    return NOW + 10 * (case + 1)


TRAFFIC_CASES: dict[str, tuple[int | None, int, list[tuple[int, tuple, tuple]], set[str]]] = {
    # name: (attempts now or None for no window at all, neighbour now, [(attempts, days, around)])
    "moved-to-neighbour": (10, 70, [(40, (1, 2), (-1, 0, 1))], {"traffic_drop"}),
    "at-ratio": (20, 60, [(40, (1, 2), (-1, 0, 1))], set()),  # not under half the expected 40
    "quiet-network": (5, 5, [(40, (1, 2), (-1, 0, 1))], set()),  # expects 5: under min_expected
    "silent-cell": (None, 80, [(40, (1, 2), (-1, 0, 1))], {"traffic_drop"}),  # judged as zeros
    "one-day-enough": (10, 70, [(40, (1,), (-1, 0, 1))], {"traffic_drop"}),
    "two-windows-too-few": (10, 70, [(40, (1,), (0, 1))], set()),
    "too-old": (10, 70, [(40, (3,), (-1, 0, 1))], set()),  # baseline_days = 2
    "other-time-of-day": (10, 70, [(40, (1, 2), (4, 5, 6))], set()),
    # One odd window (an earlier outage) does not move the median.
    "median-resists-an-outlier": (
        10,
        70,
        [(40, (1, 2), (-1, 0)), (40, (1,), (1,)), (4, (2,), (1,))],
        {"traffic_drop"},
    ),
}


def _traffic_rows() -> tuple[list[tuple], list[tuple]]:
    windows, history = [], []
    for case, (name, (now, neighbour_now, past, _)) in enumerate(TRAFFIC_CASES.items()):
        k, neighbour = _k(case), f"{name}/next"
        if now is not None:
            windows.append(_window(name, k=k, attempts=now))
        windows.append(_window(neighbour, k=k, attempts=neighbour_now))
        for attempts, days, around in past:
            history += _past(name, k, attempts, days, around)
            history += _past(neighbour, k, 80 - attempts if attempts < 40 else 40, days, around)
    return windows, history


@pytest.fixture(scope="module")
def judged(spark: SparkSession) -> list[dict[str, Any]]:
    windows = [_window(cell, **counts) for cell, (counts, _, _) in RATE_CASES.items()]
    history = [row for _, rows, _ in RATE_CASES.values() for row in rows]
    traffic_windows, traffic_history = _traffic_rows()
    return _alerts(spark, windows + traffic_windows, history + traffic_history)


@pytest.mark.parametrize("cell", list(RATE_CASES) + list(TRAFFIC_CASES))
def test_rules_fire_exactly_where_they_should(cell: str, judged: list[dict[str, Any]]) -> None:
    expected = RATE_CASES[cell][2] if cell in RATE_CASES else TRAFFIC_CASES[cell][3]
    assert _types_by_cell(judged).get(cell, set()) == expected


def test_neighbours_that_took_the_traffic_raise_nothing(judged: list[dict[str, Any]]) -> None:
    assert not [a for a in judged if a["network_element_id"].endswith("/next")]


def test_an_alert_carries_what_it_measured(judged: list[dict[str, Any]]) -> None:
    by_key = {(a["network_element_id"], a["alert_type"]): a for a in judged}
    failure = by_key["fail-five", "failure_spike"]
    assert (failure["attempts"], failure["observed"]) == (10, 5 / 10)
    assert failure["threshold"] == pytest.approx(MIN_TYPICAL_RATE + RULES.failure_points)
    drop = by_key["drop-at-threshold", "drop_spike"]
    assert (drop["observed"], drop["threshold"]) == (5 / 20, RULES.drop_rate)
    # Expected: a half of the network's 80 attempts; the threshold: half of that.
    traffic = by_key["moved-to-neighbour", "traffic_drop"]
    assert (traffic["attempts"], traffic["observed"], traffic["baseline_attempts"]) == (10, 10.0, 40.0)
    assert traffic["threshold"] == pytest.approx(40 * RULES.traffic_drop_ratio)
    silent = by_key["silent-cell", "traffic_drop"]
    assert (silent["attempts"], silent["baseline_attempts"]) == (0, 40.0)
    assert by_key["median-resists-an-outlier", "traffic_drop"]["baseline_attempts"] == 40.0
    k = _k(list(TRAFFIC_CASES).index("silent-cell"))
    assert silent["window_start"] == int(_start(k).timestamp())
    assert silent["window_end"] == silent["window_start"] + RULES.window_seconds


def test_alerts_have_the_alert_table_columns(spark: SparkSession) -> None:
    frame = judge(
        spark.createDataFrame([_window("c", attempts=10, failed=10)], WINDOWS_SCHEMA),
        spark.createDataFrame([], HISTORY_SCHEMA),
        RULES,
    )
    assert frame.columns == ALERT_SCHEMA.names


def test_no_windows_no_alerts(spark: SparkSession) -> None:
    assert _alerts(spark, [], _past("c", NOW, 40)) == []


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
