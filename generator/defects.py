"""Injected data defects, at the configured rates, with their ground truth.

Each defect row gets exactly one defect type (the chosen rows are disjoint), so the truth is
unambiguous: (record_id, defect_type, detail) per defective row, written beside the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generator import rng as rngs
from generator.columns import Columns
from generator.config import Defects
from generator.reference import EXTERNAL_POOL

DEFECT_TYPES = ("duplicate", "missing_field", "unknown_reference", "impossible_time", "corrupt_value")
MISSING_FIELDS = ("served_msisdn", "start_time", "network_element_id", "record_type")
UNKNOWN_ELEMENTS = 64
DEFECTS_SCHEMA = pa.schema(
    [("record_id", pa.string()), ("defect_type", pa.string()), ("detail", pa.string())]
)
# Far-future rows move a fixed 5 years ahead (plus minutes), so they land in a few day
# partitions instead of scattering small files over hundreds of them.
FAR_FUTURE_US = 5 * 365 * 86_400 * 1_000_000


@dataclass
class Defected:
    """A unit's columns after injection, and where the defects are."""

    columns: Columns
    record_number: np.ndarray
    positions: np.ndarray  # row positions of defective rows
    types: list[str]
    details: list[str]

    def truth(self, record_ids: pa.Array) -> pa.Table:
        return pa.table(
            {
                "record_id": record_ids.take(pa.array(self.positions, pa.int64())),
                "defect_type": self.types,
                "detail": self.details,
            },
            schema=DEFECTS_SCHEMA,
        )


@dataclass(frozen=True)
class DefectContext:
    """What injection needs from the run: rates, seed, and where unknown references start."""

    rates: Defects
    seed: int
    unknown_element_base: int  # element indices from here on are ids no element has
    n_subscribers: int  # party indices from here on are off-net numbers


def inject_defects(
    c: Columns, record_number: np.ndarray, context: DefectContext, day: int, shard: int
) -> Defected:
    """Corrupt a share of the unit's rows at the configured rates; returns them with the truth."""
    cfg = context.rates
    rng = rngs.stream(context.seed, rngs.DEFECTS, day, shard)
    n = len(record_number)
    rates = np.array([getattr(cfg, name) for name in DEFECT_TYPES])
    counts = rng.binomial(n, rates)
    chosen = rng.choice(n, min(int(counts.sum()), n), replace=False)
    duplicate, missing, unknown, bad_time, corrupt = np.split(chosen, np.cumsum(counts)[:-1])
    positions: list[np.ndarray] = []
    types: list[str] = []
    details: list[str] = []

    def record(rows: np.ndarray, defect: str, detail: str) -> None:
        positions.append(rows)
        types.extend([defect] * len(rows))
        details.extend([detail] * len(rows))

    field = rng.integers(0, len(MISSING_FIELDS), len(missing))
    for f, name in enumerate(MISSING_FIELDS):
        rows = missing[field == f]
        if name == "served_msisdn":
            c.served[rows] = -1
        elif name == "start_time":
            c.start_null[rows] = True
        elif name == "network_element_id":
            c.element[rows] = -1
        else:
            c.record_type[rows] = -1
        record(rows, "missing_field", name)

    to_cell = rng.random(len(unknown)) < 0.5
    rows = unknown[to_cell]
    c.element[rows] = context.unknown_element_base + rng.integers(0, UNKNOWN_ELEMENTS, len(rows))
    record(rows, "unknown_reference", "network_element_id")
    rows = unknown[~to_cell]
    c.served[rows] = context.n_subscribers + rng.integers(0, EXTERNAL_POOL, len(rows))
    record(rows, "unknown_reference", "served_msisdn")

    backwards = rng.random(len(bad_time)) < 0.5
    rows = bad_time[backwards]
    c.end_us[rows] = c.start_us[rows] - rng.integers(1, 7200, len(rows)) * 1_000_000
    record(rows, "impossible_time", "end_before_start")
    rows = bad_time[~backwards]
    shift = FAR_FUTURE_US + rng.integers(0, 3600, len(rows)) * 1_000_000
    c.start_us[rows] += shift
    c.end_us[rows] += shift
    record(rows, "impossible_time", "far_future")

    is_data = c.record_type[corrupt] == 2
    rows = corrupt[is_data]
    c.bytes_down[rows] = -rng.integers(1, 10**9, len(rows))
    record(rows, "corrupt_value", "negative_bytes")
    rows = corrupt[~is_data]
    c.duration_s[rows] = -rng.integers(1, 3600, len(rows)).astype(np.int32)
    record(rows, "corrupt_value", "negative_duration")

    # Duplicates: exact copies, same record id, appended to the unit.
    if len(duplicate):
        c = c.extend(c.take(duplicate))
        record_number = np.concatenate([record_number, record_number[duplicate]])
        record(np.arange(n, n + len(duplicate)), "duplicate", "exact_copy")
    return Defected(
        c, record_number, np.concatenate(positions) if positions else np.array([], np.int64), types, details
    )
