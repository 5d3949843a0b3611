"""Record ids: unique across a run, deterministic for a seed, built without a Python loop."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.exceptions import ConfigError


class RecordIds:
    """Unique record ids ``<run tag>-<day:3><shard:5><row:7>``, assembled as fixed-width bytes.

    Formatting millions of integers is the slowest part of building a batch; the row part comes
    from a table of zero-padded digits made once, so a unit costs one gather and one copy.
    """

    ROW_DIGITS = 7
    ROW_LIMIT = 10**ROW_DIGITS  # rows of one unit

    def __init__(self, run_tag: str) -> None:
        self.prefix = f"{run_tag}-".encode()
        self.head_width = len(self.prefix) + 8
        self.width = self.head_width + self.ROW_DIGITS
        self.digits = np.empty(0, f"S{self.ROW_DIGITS}")

    def _row_digits(self, count: int) -> np.ndarray:
        if count > len(self.digits):
            size = max(count, 2 * len(self.digits), 1 << 16)
            powers = 10 ** np.arange(self.ROW_DIGITS - 1, -1, -1, dtype=np.int64)
            table = ((np.arange(size, dtype=np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint8)
            self.digits = table.view(f"S{self.ROW_DIGITS}").ravel()
        return self.digits

    def build(self, day: int, shard: int, rows: np.ndarray) -> pa.Array:
        """The ids of a unit's rows (``rows``: row numbers within the unit)."""
        if len(rows) and rows.max() >= self.ROW_LIMIT:
            # The config checks leave headroom; an extreme spread of activity could still get here.
            raise ConfigError(
                f"day {day} of subscriber shard {shard} makes {rows.max() + 1:,} events, more than the "
                f"{self.ROW_LIMIT:,} its record ids allow: lower traffic.rates and traffic.fixed_rates "
                "(or --rows) or traffic.activity_sigma"
            )
        out = np.empty(len(rows), [("head", f"S{self.head_width}"), ("row", f"S{self.ROW_DIGITS}")])
        out["head"] = self.prefix + f"{day:03d}{shard:05d}".encode()
        out["row"] = self._row_digits(int(rows.max()) + 1 if len(rows) else 0)[rows]
        offsets = np.arange(0, (len(rows) + 1) * self.width, self.width, dtype=np.int32)
        return pa.StringArray.from_buffers(len(rows), pa.py_buffer(offsets), pa.py_buffer(out))
