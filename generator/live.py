"""Live CDRs: the generator's events, paced in time order onto the CDR topic.

A time-lapse of the generator's network. The simulated clock runs ``speed`` times faster than
the wall clock, where the speed follows from the wanted rate and the config's traffic (20,000
subscribers make ~470,000 events a day, so 2,000 events/s runs a day in ~4 minutes). Event
times are the simulated ones, so incidents keep their shape: an injected outage is still an
outage of its hours in event time, which the alert windows see.

The first cycle of the config's days is placed so that it ends when the producer starts: its
events are in the past, as live data should be. Later cycles run ahead of the wall clock (the
clean layer rejects events more than ``future_tolerance_hours`` ahead of their ingestion).

Subscribers and cells come from the config's seed, the same world ``lakehouse generate``
loads into ``raw.*``, so streamed events join the reference data. Events come from
``event_seed`` (the next one on each cycle): record ids never repeat across runs and cycles.

Each cycle's incidents are handed over, shifted like its events, before the first of its
events is sent (``on_truth``): the producer records them in ``raw_truth.live_incidents``, so
the stream's real-time alerts can be scored against what was injected.

``steady`` sends at a constant rate; ``curve`` sends each event when the simulated clock reaches
it, so the rate follows the daily curve (busy hours, quiet nights) around the same mean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator.config import GeneratorConfig, expected_events_per_day
from generator.events import EventBuilder
from generator.incidents import US, incidents_table, local_to_utc_us, plan_incidents
from generator.reference import build_world
from generator.run import batch_id_of

log = logging.getLogger(__name__)

SLICE = 2_000  # events sent per pacing step


class Pace(StrEnum):
    steady = "steady"
    curve = "curve"


class LiveDay(NamedTuple):
    """One simulated day of a cycle: its number (from 0, across cycles), its events in time
    order, and the truth of the incidents its cycle injects (``INCIDENTS_SCHEMA``)."""

    number: int
    events: pa.Table
    truth: pa.Table


class LiveCycle(NamedTuple):
    """What a producer run injects in one cycle: the incidents' truth, times as streamed."""

    run_id: str  # the event seed and the wall-clock start: a rerun with the seed is another run
    cycle: int
    start_us: int  # the cycle's simulated days, as streamed (UTC epoch microseconds)
    end_us: int
    truth: pa.Table


TruthReceiver = Callable[[LiveCycle], None]


def day_tables(config: GeneratorConfig, event_seed: int) -> Iterator[LiveDay]:
    """The simulated days in order, cycling the config's days forever.

    Day ``n`` is day ``n % days`` of cycle ``n // days``; cycle ``c`` draws its events (and
    incidents) from seed ``event_seed + c`` on the world of ``config.seed``.
    """
    world = build_world(config)
    cycle = 0
    while True:
        cfg = config.model_copy(update={"seed": event_seed + cycle})
        incidents = plan_incidents(cfg, world)
        truth = incidents_table(incidents, world)
        builder = EventBuilder(cfg, world, incidents, run_tag=batch_id_of(cfg)[4:12])
        day: list[pa.RecordBatch] = []
        for unit_day, shard in builder.units():
            day.append(builder.build(unit_day, shard)[0])
            if len(day) == builder.shards:
                table = pa.Table.from_batches(day)
                order = pc.sort_indices(table, [("start_time", "ascending", "at_end")])
                yield LiveDay(cycle * config.days + unit_day, table.take(order), truth)
                log.debug("cycle %d day %d: %d events", cycle, unit_day, table.num_rows)
                day = []
        cycle += 1


def shift_times(events: pa.Table, offset_us: int) -> pa.Table:
    """Move start and end times by ``offset_us`` (nulls stay null)."""
    offset = pa.scalar(offset_us, pa.duration("us"))
    for name in ("start_time", "end_time"):
        index = events.schema.get_field_index(name)
        events = events.set_column(index, name, pc.add(events.column(name), offset))
    return events


def live_events(
    config: GeneratorConfig,
    rate: float,
    pace: Pace = Pace.steady,
    limit: int | None = None,
    event_seed: int | None = None,
    on_truth: TruthReceiver | None = None,
) -> Iterator[pa.Table]:
    """Slices of live events, each yielded when it is due at ``rate`` events/s; ``limit`` events
    in all (endless if None). The caller sends them wherever they go (``lakehouse stream produce``:
    Kafka). ``on_truth`` gets each cycle's incidents, shifted like its events, before the first
    of them is yielded."""
    speed = rate * 86_400 / expected_events_per_day(config)
    wall_origin = time.time()
    # Simulated time zero lands config.days before now: the first cycle is all in the past.
    event_origin = wall_origin - config.days * 86_400
    offset_us = int(event_origin * US) - local_to_utc_us(config, config.start)
    seed = event_seed if event_seed is not None else time.time_ns() // 1000 % 2**62
    run_id = f"live-{seed}-{int(wall_origin)}"
    cycle_us = config.days * 86_400 * US
    log.info("live CDRs at %.0f events/s (%s), simulated clock x%.0f", rate, pace, speed)
    sent = 0
    for number, day, truth in day_tables(config, seed):
        cycle = number // config.days
        shift_us = offset_us + cycle * cycle_us
        if on_truth is not None and number % config.days == 0:
            start_us = int(event_origin * US) + cycle * cycle_us
            on_truth(LiveCycle(run_id, cycle, start_us, start_us + cycle_us, shift_times(truth, shift_us)))
        day = shift_times(day, shift_us)
        due_at = _due_times(day, wall_origin, event_origin, number, speed) if pace is Pace.curve else None
        for first in range(0, day.num_rows, SLICE):
            part = day.slice(first, SLICE if limit is None else min(SLICE, limit - sent))
            last = first + part.num_rows - 1
            due = due_at[last] if due_at is not None else wall_origin + (sent + part.num_rows) / rate
            ahead = due - time.time()
            if ahead > 0:
                time.sleep(ahead)
            yield part
            sent += part.num_rows
            if limit is not None and sent >= limit:
                return


def _due_times(
    day: pa.Table, wall_origin: float, event_origin: float, number: int, speed: float
) -> np.ndarray:
    """Wall-clock second each event of simulated day ``number`` is due at, ``speed``x faster.

    ``event_origin`` is the event time (epoch seconds) sent at ``wall_origin``. Defective times
    (null, far future or past) are due at the edge of their day, in the order sorted.
    """
    day_start = event_origin + number * 86_400
    seconds = pc.divide(day.column("start_time").cast(pa.int64()), US).to_numpy(zero_copy_only=False)
    seconds = np.nan_to_num(seconds.astype(np.float64), nan=day_start + 86_399)
    seconds = np.clip(seconds, day_start, day_start + 86_399)
    return wall_origin + (seconds - event_origin) / speed
