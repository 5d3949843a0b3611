"""A unit of events as numpy columns: what the event builder fills and the defects corrupt."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Columns:
    """A unit's events as numpy columns; index columns point into lookup arrays, -1 = null."""

    subscriber: np.ndarray
    record_type: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray
    duration_s: np.ndarray
    element: np.ndarray
    party: np.ndarray
    direction: np.ndarray
    result: np.ndarray
    cause: np.ndarray
    bytes_up: np.ndarray
    bytes_down: np.ndarray
    apn: np.ndarray
    roaming: np.ndarray
    served: np.ndarray  # index into the party numbers for served_msisdn (defects may redirect)
    start_null: np.ndarray

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(**{name: value[rows] for name, value in vars(self).items()})

    def extend(self, other: Columns) -> Columns:
        return Columns(**{k: np.concatenate([v, getattr(other, k)]) for k, v in vars(self).items()})
