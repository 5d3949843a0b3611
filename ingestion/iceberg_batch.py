"""Batch ingestion into the raw Iceberg tables, idempotent per generation batch.

The ledger is Iceberg itself: each append records ``lakehouse.batch-id`` in its snapshot
summary, and a batch whose id a table already holds is skipped. Every table gets one commit
per batch, of rows sorted by time so files of a day partition cover narrow time ranges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform

from generator.run import Generation
from generator.schema import INGESTION_FIELDS, RAW_CDR_SCHEMA, RAW_TABLES

log = logging.getLogger(__name__)
# Dictionary-encoded strings are stored as plain strings; PyIceberg logs a notice on every write.
logging.getLogger("pyiceberg.io.pyarrow").addFilter(
    lambda record: "does not have a dictionary type" not in record.getMessage()
)

BATCH_PROPERTY = "lakehouse.batch-id"
TABLE_PROPERTIES = {
    "write.parquet.compression-codec": "zstd",
    "write.target-file-size-bytes": str(256 * 1024 * 1024),
    # Columns with few values (types, cells, results) keep dictionary pages; unique ones (ids,
    # timestamps) give up early instead of building a large dictionary first (~17% faster).
    "write.parquet.dict-size-bytes": str(64 * 1024),
    # The stream commits every few seconds: keep the last metadata files, not every one.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
    # Two writers (batch and stream) append to raw.cdr: retry commits that lose the race.
    "commit.retry.num-retries": "10",
    "commit.retry.min-wait-ms": "100",
}


@dataclass
class LoadResult:
    batch_id: str
    namespace: str
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def truth_namespace(namespace: str) -> str:
    """Where the ground truth of a raw namespace lives, beside it and never inside it."""
    return f"{namespace}_truth"


def holds_batch(table: Table, batch_id: str) -> bool:
    return any(s.summary is not None and s.summary.get(BATCH_PROPERTY) == batch_id for s in table.snapshots())


def ensure_table(
    catalog: Catalog, identifier: str, schema: pa.Schema, day_partition: str | None = None
) -> Table:
    """Load the table, or create it (partitioned by day of ``day_partition`` if given)."""
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    table = catalog.create_table(identifier, schema=schema, properties=TABLE_PROPERTIES)
    if day_partition is not None:
        with table.update_spec() as spec:
            spec.add_field(day_partition, DayTransform(), f"{day_partition}_day")
        with table.update_sort_order() as order:
            order.asc(day_partition, IdentityTransform())
    return table


def _write_once(
    table: Table, data: pa.Table, batch_id: str, result: LoadResult, name: str, replace: bool
) -> None:
    """Append (or, for reference data describing one world, replace) unless the batch is there."""
    if holds_batch(table, batch_id):
        result.skipped.append(name)
        return
    properties = {BATCH_PROPERTY: batch_id}
    if replace and table.current_snapshot() is not None:
        table.overwrite(data, snapshot_properties=properties)
    else:
        table.append(data, snapshot_properties=properties)
    result.rows[name] = data.num_rows


def with_ingestion_columns(events: pa.Table, batch_id: str, source: str = "batch") -> pa.Table:
    """Add ingested_at / source / batch_id and order columns as the raw contract says."""
    n = events.num_rows
    now = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    extra = [pa.repeat(now, n), pa.repeat(pa.scalar(source), n), pa.repeat(pa.scalar(batch_id), n)]
    # Keep the in-memory (dictionary) encodings; take nullability from the contract.
    schema = pa.schema([*events.schema, *INGESTION_FIELDS])
    return pa.Table.from_arrays([*events.columns, *extra], schema=schema)


def load_generation(
    catalog: Catalog,
    generation: Generation,
    namespace: str = "raw",
    on_batch: Callable[[int], None] | None = None,
) -> LoadResult:
    """Land a whole generation in ``namespace`` (and its truth beside it), once."""
    batch_id = generation.batch_id
    result = LoadResult(batch_id, namespace)
    truth_ns = truth_namespace(namespace)
    for ns in (namespace, truth_ns):
        catalog.create_namespace_if_not_exists(ns)
    cdr = ensure_table(catalog, f"{namespace}.cdr", RAW_CDR_SCHEMA, day_partition="start_time")
    if holds_batch(cdr, batch_id):
        log.info("batch %s is already in %s.cdr: nothing to load", batch_id, namespace)
        result.skipped.append("cdr")
        return result

    for name, table in generation.reference_tables().items():
        target = ensure_table(catalog, f"{namespace}.{name}", RAW_TABLES[name])
        _write_once(target, table, batch_id, result, name, replace=True)

    batches, truths = [], []
    for batch, truth in generation.batches():
        batches.append(batch)
        truths.append(truth)
        if on_batch is not None:
            on_batch(batch.num_rows)
    events = pa.Table.from_batches(batches)
    # Time order: files of a day partition then cover narrow time ranges (min/max pruning).
    events = events.take(pc.sort_indices(events, [("start_time", "ascending")]))
    events = with_ingestion_columns(events, batch_id)

    defects = pa.concat_tables(truths)
    defects = defects.append_column("batch_id", pa.repeat(pa.scalar(batch_id), defects.num_rows))
    incidents = generation.incidents_truth()
    incidents = incidents.append_column("batch_id", pa.repeat(pa.scalar(batch_id), incidents.num_rows))
    for name, data in (("defects", defects), ("incidents", incidents)):
        target = ensure_table(catalog, f"{truth_ns}.{name}", data.schema)
        _write_once(target, data, batch_id, result, f"truth.{name}", replace=False)
    # The CDRs go last: their batch id is the ledger that says the whole batch landed.
    _write_once(cdr, events, batch_id, result, "cdr", replace=False)
    return result
