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
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table

from core.contracts.generation import GenerationSource
from core.contracts.raw_tables import (
    INGESTION_FIELDS,
    RAW_CDR_SCHEMA,
    RAW_TABLES,
    REFERENCE_KEYS,
    truth_namespace,
)
from ingestion.iceberg_tables import ensure_table

log = logging.getLogger(__name__)

BATCH_PROPERTY = "lakehouse.batch-id"


@dataclass
class LoadResult:
    batch_id: str
    namespace: str
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def holds_batch(table: Table, batch_id: str) -> bool:
    """Whether ``batch_id`` is already in ``table``.

    A snapshot summary says so cheaply; once maintenance has expired that snapshot, the rows
    themselves still do (tables with a ``batch_id`` column: the CDRs and the truth), so the
    ledger never depends on old snapshots. Reference tables are merged by key: merging the
    same world twice leaves them as they were.
    """
    if any(s.summary is not None and s.summary.get(BATCH_PROPERTY) == batch_id for s in table.snapshots()):
        return True
    if table.current_snapshot() is None or "batch_id" not in table.schema().column_names:
        return False
    # Column statistics prune the files of other batches (the stream's ids are topic@offsets).
    found = table.scan(row_filter=EqualTo("batch_id", batch_id), selected_fields=("batch_id",), limit=1)
    return found.to_arrow().num_rows > 0


def _write_once(
    table: Table, data: pa.Table, batch_id: str, result: LoadResult, name: str, key: str | None = None
) -> None:
    """Append ``data`` unless the batch is there; reference data (``key`` given) is merged by
    key instead: new rows added, changed rows updated, rows of earlier batches kept, so the
    CDRs of every batch keep joining."""
    if holds_batch(table, batch_id):
        result.skipped.append(name)
        return
    properties = {BATCH_PROPERTY: batch_id}
    if key is not None and table.current_snapshot() is not None:
        merged = table.upsert(data, join_cols=[key], snapshot_properties=properties)
        result.rows[name] = merged.rows_inserted + merged.rows_updated
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
    generation: GenerationSource,
    namespace: str,
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
        _write_once(target, table, batch_id, result, name, key=REFERENCE_KEYS[name])

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
        _write_once(target, data, batch_id, result, f"truth.{name}")
    # The CDRs go last: their batch id is the ledger that says the whole batch landed.
    _write_once(cdr, events, batch_id, result, "cdr")
    return result
