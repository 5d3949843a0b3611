"""The live producer: same world as `generate`, fresh record ids, event times in the past."""

from __future__ import annotations

import time
from itertools import islice

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from generator.config import GeneratorConfig, load_config
from generator.incidents import US
from generator.live import Pace, _due_times, day_tables, live_events
from generator.run import Generation


@pytest.fixture(scope="module")
def config() -> GeneratorConfig:
    return load_config(days=2, subscribers=1_500, seed=11)


def test_live_events_join_the_world_that_generate_loads(config: GeneratorConfig) -> None:
    (_, day), *_ = islice(day_tables(config, event_seed=999), 1)
    world = Generation(config).world
    known = pc.is_in(day.column("served_msisdn").cast(pa.string()), world.subscribers.column("msisdn"))
    assert day.num_rows > 1_000
    assert pc.mean(known.cast(pa.float64())).as_py() > 0.95  # the rest are injected defects


def test_record_ids_differ_by_event_seed_and_from_the_batch_load(config: GeneratorConfig) -> None:
    (_, first), *_ = islice(day_tables(config, event_seed=1), 1)
    (_, second), *_ = islice(day_tables(config, event_seed=2), 1)
    batch_ids = {r for b, _ in Generation(config).batches() for r in b.column("record_id").to_pylist()}
    ids_1, ids_2 = set(first.column("record_id").to_pylist()), set(second.column("record_id").to_pylist())
    assert not ids_1 & ids_2
    assert not ids_1 & batch_ids


def test_days_come_in_time_order_and_cycle_with_new_ids(config: GeneratorConfig) -> None:
    days = list(islice(day_tables(config, event_seed=5), 3))
    assert [n for n, _ in days] == [0, 1, 2]
    for _, day in days:
        times = day.column("start_time").drop_null()
        assert pc.all(pc.less_equal(times.slice(0, len(times) - 1), times.slice(1))).as_py()
    assert not set(days[0][1].column("record_id").to_pylist()) & set(
        days[2][1].column("record_id").to_pylist()
    )


def test_first_cycle_is_in_the_past(config: GeneratorConfig) -> None:
    before = time.time()
    sent_table = pa.concat_tables(live_events(config, rate=1e9, limit=20_000, event_seed=3))
    assert sent_table.num_rows == 20_000
    times = pc.cast(sent_table.column("start_time"), pa.int64()).drop_null().to_numpy()
    assert times.max() <= time.time() * US  # defects aside, nothing starts in the future
    assert times.min() >= (before - config.days * 86_400 - 3_600) * US


def test_curve_pace_spreads_a_day_over_its_share_of_the_wall_clock() -> None:
    start = pa.array([0, 43_200 * US, 86_399 * US, None], pa.timestamp("us", "UTC"))
    day = pa.table({"start_time": start})
    due = _due_times(day, wall_origin=1_000.0, event_origin=0.0, number=0, speed=100.0)
    assert list(due) == pytest.approx([1_000.0, 1_432.0, 1_863.99, 1_863.99])


def test_pace_names_are_the_cli_choices() -> None:
    assert {p.value for p in Pace} == {"steady", "curve"}
