"""Live CDRs: the generator's events, paced in time order onto the CDR topic.

The simulated clock starts at the wall-clock time the producer starts and runs ``speed`` times
faster, where the speed follows from the wanted rate and the config's traffic (20,000
subscribers make ~470,000 events a day, so 2,000 events/s runs a day in ~4 minutes). Event
times are the simulated ones, shifted to start now: incidents and defects keep their shape, and
an injected outage is still an outage of its hours in event time, which the alert windows see.

``steady`` sends at a constant rate; ``curve`` sends each event when the simulated clock reaches
it, so the rate follows the daily curve (busy hours, quiet nights) around the same mean.
Each cycle of the config's days uses the next seed: record ids never repeat within a run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator.config import GeneratorConfig, expected_events_per_day
from generator.incidents import US, local_to_utc_us
from generator.run import Generation
from ingestion.kafka_sink import CdrProducer

log = logging.getLogger(__name__)

SLICE = 2_000  # events sent per pacing step


class Pace(StrEnum):
    steady = "steady"
    curve = "curve"


def day_tables(config: GeneratorConfig) -> Iterator[tuple[int, pa.Table]]:
    """(day number, that simulated day's events in time order), cycling the config's days forever.

    Day ``n`` is day ``n % days`` of cycle ``n // days``; each cycle runs with the next seed.
    """
    cycle = 0
    while True:
        cfg = config.model_copy(update={"seed": config.seed + cycle})
        generation = Generation(cfg)
        day: list[pa.RecordBatch] = []
        for (unit_day, _), (batch, _) in zip(generation.builder.units(), generation.batches(), strict=True):
            day.append(batch)
            if len(day) == generation.builder.shards:
                table = pa.Table.from_batches(day)
                order = pc.sort_indices(table, [("start_time", "ascending", "at_end")])
                yield cycle * config.days + unit_day, table.take(order)
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


def run_live(
    producer: CdrProducer,
    config: GeneratorConfig,
    rate: float,
    pace: Pace = Pace.steady,
    limit: int | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send live events at ``rate`` events/s until ``limit`` events (forever if None)."""
    speed = rate * 86_400 / expected_events_per_day(config)
    sim_origin_us = local_to_utc_us(config, config.start)
    wall_origin = time.time()
    offset_us = int(wall_origin * US) - sim_origin_us
    log.info("live CDRs at %.0f events/s (%s), simulated clock x%.0f", rate, pace, speed)
    sent = 0
    for number, day in day_tables(config):
        cycle = number // config.days
        day = shift_times(day, offset_us + cycle * config.days * 86_400 * US)
        due_at = _due_times(day, wall_origin, number, speed) if pace is Pace.curve else None
        for first in range(0, day.num_rows, SLICE):
            part = day.slice(first, SLICE if limit is None else min(SLICE, limit - sent))
            last = first + part.num_rows - 1
            due = due_at[last] if due_at is not None else wall_origin + (sent + part.num_rows) / rate
            ahead = due - time.time()
            if ahead > 0:
                time.sleep(ahead)
            sent += producer.send(part)
            if on_sent is not None:
                on_sent(sent)
            if limit is not None and sent >= limit:
                producer.flush()
                return sent
    raise AssertionError("day_tables never ends")  # pragma: no cover


def _due_times(day: pa.Table, wall_origin: float, number: int, speed: float) -> np.ndarray:
    """Wall-clock second each event of simulated day ``number`` is due at, ``speed``x faster.

    Defective times (null, far future) are due at the end of their day, in the order sorted.
    """
    day_start = wall_origin + number * 86_400
    seconds = pc.divide(day.column("start_time").cast(pa.int64()), US).to_numpy(zero_copy_only=False)
    seconds = np.nan_to_num(seconds.astype(np.float64), nan=day_start + 86_399)
    seconds = np.clip(seconds, day_start, day_start + 86_399)
    return wall_origin + (seconds - wall_origin) / speed
