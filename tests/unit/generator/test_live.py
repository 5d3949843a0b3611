"""The live producer: same world as `generate`, fresh record ids, event times in the past."""

from __future__ import annotations

import time
from itertools import islice

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from generator.config import GeneratorConfig, load_config
from generator.incidents import US
from generator.live import LiveCycle, Pace, _due_times, day_tables, live_events
from generator.run import Generation


@pytest.fixture(scope="module")
def config() -> GeneratorConfig:
    return load_config(days=2, subscribers=1_500, seed=11)


def test_live_events_join_the_world_that_generate_loads(config: GeneratorConfig) -> None:
    day = next(day_tables(config, event_seed=999)).events
    world = Generation(config).world
    known = pc.is_in(day.column("served_msisdn").cast(pa.string()), world.subscribers.column("msisdn"))
    assert day.num_rows > 1_000
    assert pc.mean(known.cast(pa.float64())).as_py() > 0.95  # the rest are injected defects


def test_record_ids_differ_by_event_seed_and_from_the_batch_load(config: GeneratorConfig) -> None:
    first = next(day_tables(config, event_seed=1)).events
    second = next(day_tables(config, event_seed=2)).events
    batch_ids = {r for b, _ in Generation(config).batches() for r in b.column("record_id").to_pylist()}
    ids_1, ids_2 = set(first.column("record_id").to_pylist()), set(second.column("record_id").to_pylist())
    assert not ids_1 & ids_2
    assert not ids_1 & batch_ids


def test_days_come_in_time_order_and_cycle_with_new_ids(config: GeneratorConfig) -> None:
    days = list(islice(day_tables(config, event_seed=5), 3))
    assert [d.number for d in days] == [0, 1, 2]
    for day in days:
        times = day.events.column("start_time").drop_null()
        assert pc.all(pc.less_equal(times.slice(0, len(times) - 1), times.slice(1))).as_py()
    assert not set(days[0].events.column("record_id").to_pylist()) & set(
        days[2].events.column("record_id").to_pylist()
    )
    # Each cycle has its own incidents (from its own seed); the days of a cycle share them.
    assert days[0].truth.equals(days[1].truth)
    assert not days[0].truth.equals(days[2].truth)


def test_first_cycle_is_in_the_past(config: GeneratorConfig) -> None:
    before = time.time()
    sent_table = pa.concat_tables(live_events(config, rate=1e9, limit=20_000, event_seed=3))
    assert sent_table.num_rows == 20_000
    times = pc.cast(sent_table.column("start_time"), pa.int64()).drop_null().to_numpy()
    assert times.max() <= time.time() * US  # defects aside, nothing starts in the future
    assert times.min() >= (before - config.days * 86_400 - 3_600) * US


def test_each_cycles_truth_comes_before_its_events_shifted_like_them(config: GeneratorConfig) -> None:
    received: list[LiveCycle] = []
    sent = 0
    per_day = None
    for part in live_events(config, rate=1e9, limit=None, event_seed=7, on_truth=received.append):
        if per_day is None:
            per_day = len(received)
            assert per_day == 1  # before the first event of cycle 0
        sent += part.num_rows
        if len(received) == 2:  # cycle 1 is announced before its first event is yielded
            break
    first, second = received
    assert (first.cycle, second.cycle) == (0, 1)
    assert first.run_id == second.run_id and first.run_id.startswith("live-7-")
    cycle_us = config.days * 86_400 * US
    assert first.end_us - first.start_us == cycle_us and second.start_us == first.end_us
    assert first.start_us <= time.time() * US <= first.end_us + 60 * US  # cycle 0 ends about now
    # The truth's times moved with the events: every incident lies in its cycle.
    for cycle in received:
        starts = pc.cast(cycle.truth.column("start_time"), pa.int64()).to_numpy()
        ends = pc.cast(cycle.truth.column("end_time"), pa.int64()).to_numpy()
        assert cycle.truth.num_rows > 0
        assert (starts >= cycle.start_us).all() and (ends <= cycle.end_us).all() and (starts < ends).all()
    # The same incidents as the cycle's seed plans, shifted by one offset.
    planned = next(day_tables(config, event_seed=7)).truth
    shift = pc.subtract(
        pc.cast(first.truth.column("start_time"), pa.int64()),
        pc.cast(planned.column("start_time"), pa.int64()),
    )
    assert len(set(shift.to_pylist())) == 1
    assert first.truth.column("incident_id").equals(planned.column("incident_id"))


def test_curve_pace_spreads_a_day_over_its_share_of_the_wall_clock() -> None:
    start = pa.array([0, 43_200 * US, 86_399 * US, None], pa.timestamp("us", "UTC"))
    day = pa.table({"start_time": start})
    due = _due_times(day, wall_origin=1_000.0, event_origin=0.0, number=0, speed=100.0)
    assert list(due) == pytest.approx([1_000.0, 1_432.0, 1_863.99, 1_863.99])


def test_pace_names_are_the_cli_choices() -> None:
    assert {p.value for p in Pace} == {"steady", "curve"}
