"""What a scenario will make, measured on a small sample generated with the same code and seed.

The sample is the scenario with fewer subscribers (``ui.preview_subscribers``) and at most a
week: one run of :class:`generator.run.Generation`, so every curve and mix shown is the
generator's own output, not a model of it. Totals are scaled up from the sample and set beside
the config's analytic expectation (:func:`generator.config.expected_events_per_day`).
"""

from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from core.exceptions import ConfigError
from generator.config import GeneratorConfig, expected_events_per_day
from generator.run import Generation

PREVIEW_DAYS = 7  # a whole week, so that the weekday curve is seen
DURATION_BINS_S = (0, 15, 30, 60, 120, 300, 600, 1200, 3600)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Preview:
    """The sample's tables and the scaled estimates of the whole scenario."""

    sample: GeneratorConfig
    sample_rows: int
    by_type: dict[str, int]  # record type -> rows in the sample
    hourly: pa.Table  # local_hour, record_type, events
    weekly: pa.Table  # weekday (0 = Monday), weekday_name, events
    durations: pa.Table  # bucket, calls (answered voice calls by duration)
    segments: pa.Table  # segment, events
    regions: pa.Table  # region_code, latitude, longitude, events
    incidents: pa.Table  # the sample's incidents: type, element, start and end (UTC)
    scale: float  # sample rows x scale ~ the scenario's rows
    expected_rows: int  # the config's own expectation (rates x subscribers x days)
    estimated_rows: int
    sample_seconds: float
    bytes_per_row: float  # Parquet (zstd) of the sample

    @property
    def estimated_generation_seconds(self) -> float:
        """Generation alone, at the rate the sample ran (landing adds to it)."""
        return self.estimated_rows * self.sample_seconds / max(self.sample_rows, 1)

    @property
    def estimated_bytes(self) -> int:
        return int(self.estimated_rows * self.bytes_per_row)


def sample_of(config: GeneratorConfig, subscribers: int) -> GeneratorConfig:
    """The scenario cut to ``subscribers`` and at most a week, with the same seed and start."""
    update = {"subscribers": min(subscribers, config.subscribers), "days": min(config.days, PREVIEW_DAYS)}
    try:
        return GeneratorConfig.model_validate({**config.model_dump(), **update})
    except ValidationError as exc:  # e.g. a SIM-box ring that needs more subscribers than that
        raise ConfigError.from_validation(exc, source=f"preview sample ({update})") from None


def preview(config: GeneratorConfig, subscribers: int) -> Preview:
    """Generate the sample of ``config`` and summarise it."""
    sample = sample_of(config, subscribers)
    began = time.perf_counter()
    generation = Generation(sample)
    events = pa.Table.from_batches([batch for batch, _ in generation.batches()])
    seconds = time.perf_counter() - began
    events = _decoded(events)
    # Curves over local wall-clock time, as the KPIs count it; rows whose start time a defect
    # removed are counted in the mixes but cannot be placed on a curve.
    timed = events.filter(pc.is_valid(events["start_time"]))
    local = pc.local_timestamp(pc.cast(timed["start_time"], pa.timestamp("us", tz=sample.time_zone)))
    scale = (config.subscribers / sample.subscribers) * (config.days / sample.days)
    return Preview(
        sample=sample,
        sample_rows=events.num_rows,
        by_type=dict(generation.report.by_type),
        hourly=_count(timed.append_column("local_hour", pc.hour(local)), ["local_hour", "record_type"]),
        weekly=_weekly(timed.append_column("weekday", pc.day_of_week(local))),
        durations=_durations(events),
        segments=_segments(events, generation),
        regions=_regions(events, generation),
        incidents=generation.incidents_truth().select(
            ["incident_type", "element_id", "start_time", "end_time"]
        ),
        scale=scale,
        expected_rows=round(expected_events_per_day(config) * config.days),
        estimated_rows=round(events.num_rows * scale),
        sample_seconds=seconds,
        bytes_per_row=_parquet_bytes(events) / max(events.num_rows, 1),
    )


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain ones: each batch has its own dictionary, which joins refuse."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _count(table: pa.Table, keys: list[str]) -> pa.Table:
    counted = table.group_by(keys).aggregate([([], "count_all")]).rename_columns([*keys, "events"])
    return counted.sort_by([(key, "ascending") for key in keys])


def _weekly(events: pa.Table) -> pa.Table:
    counted = _count(events, ["weekday"])
    names = [WEEKDAYS[day] for day in counted["weekday"].to_pylist()]
    return counted.append_column("weekday_name", pa.array(names))


def _durations(events: pa.Table) -> pa.Table:
    answered = events.filter(
        pc.and_(pc.equal(events["record_type"], "voice"), pc.greater(events["duration_s"], 0))
    )
    seconds = answered["duration_s"].to_numpy(zero_copy_only=False)
    edges = [*DURATION_BINS_S, np.inf]
    counts, _ = np.histogram(seconds, bins=edges)
    labels = [f"{lo}-{hi} s" if hi != np.inf else f"≥ {lo} s" for lo, hi in itertools.pairwise(edges)]
    return pa.table({"bucket": labels, "calls": counts.tolist()})


def _segments(events: pa.Table, generation: Generation) -> pa.Table:
    subscribers = generation.world.subscribers.select(["msisdn", "segment"])
    joined = events.select(["served_msisdn"]).join(subscribers, "served_msisdn", "msisdn")
    return _count(joined, ["segment"])


def _regions(events: pa.Table, generation: Generation) -> pa.Table:
    elements = generation.world.network_elements.select(
        ["element_id", "region_code", "latitude", "longitude"]
    )
    counted = _count(events, ["network_element_id"])
    joined = counted.join(elements, "network_element_id", "element_id")
    by_region = joined.group_by("region_code").aggregate(
        [("events", "sum"), ("latitude", "mean"), ("longitude", "mean")]
    )
    return by_region.rename_columns(["region_code", "events", "latitude", "longitude"]).sort_by("region_code")


def _parquet_bytes(events: pa.Table) -> int:
    sink = io.BytesIO()
    pq.write_table(events, sink, compression="zstd")
    return sink.tell()
