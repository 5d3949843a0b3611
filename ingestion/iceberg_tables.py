"""Iceberg tables of the project, created by PyIceberg with one set of properties.

Every table (batch raw tables, truth, stream tables) is made here, so types, partitioning and
table properties have one source.
"""

from __future__ import annotations

import logging

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform

# Dictionary-encoded strings are stored as plain strings; PyIceberg logs a notice on every write.
logging.getLogger("pyiceberg.io.pyarrow").addFilter(
    lambda record: "does not have a dictionary type" not in record.getMessage()
)

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


def ensure_table(
    catalog: Catalog, identifier: str, schema: pa.Schema, day_partition: str | None = None
) -> Table:
    """Load the table, or create it (partitioned by day of ``day_partition`` if given)."""
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    try:
        table = catalog.create_table(identifier, schema=schema, properties=TABLE_PROPERTIES)
    except TableAlreadyExistsError:  # another writer created it since: theirs, same schema
        return catalog.load_table(identifier)
    if day_partition is not None:
        with table.update_spec() as spec:
            spec.add_field(day_partition, DayTransform(), f"{day_partition}_day")
        with table.update_sort_order() as order:
            order.asc(day_partition, IdentityTransform())
    return table
