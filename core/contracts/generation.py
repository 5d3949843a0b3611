"""What a batch sink needs from a generation run, so sinks never import the generator.

``generator.run.Generation`` satisfies this protocol; a sink (Iceberg, Parquet, Kafka) takes any
object that does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa


class GenerationSource(Protocol):
    """One deterministic batch of CDRs with its reference data and ground truth."""

    batch_id: str
    """Deterministic id: the same config and seed give the same id (the idempotency key)."""

    @property
    def report(self) -> GenerationReportLike: ...

    def batches(self) -> Iterator[tuple[pa.RecordBatch, pa.Table]]:
        """(events in the raw contract's event schema, defect truth) per unit of work."""
        ...

    def reference_tables(self) -> dict[str, pa.Table]:
        """Reference tables by raw table name (regions, tariff_plans, network_elements, subscribers)."""
        ...

    def incidents_truth(self) -> pa.Table:
        """The injected incidents (outages, congestion, SIM-box), one row each."""
        ...


class GenerationReportLike(Protocol):
    """The run's report, as written beside Parquet output."""

    def as_dict(self) -> dict[str, object]: ...
