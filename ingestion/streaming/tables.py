"""Create the tables the streaming job writes, once, with PyIceberg.

PyIceberg creates every table of the project (batch and stream alike), so types, partitioning
and table properties come from one place (``ingestion.iceberg_tables``).
"""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from core.contracts.raw_tables import RAW_CDR_SCHEMA
from core.contracts.stream_tables import (
    ALERT_SCHEMA,
    CELL_WINDOW_SCHEMA,
    LIVE_INCIDENTS_SCHEMA,
    QUARANTINE_SCHEMA,
    StreamTables,
)
from ingestion.iceberg_tables import TABLE_PROPERTIES, ensure_table


def ensure_stream_tables(catalog: Catalog, tables: StreamTables) -> None:
    """Create the namespaces and tables the job writes, if missing."""
    catalog.create_namespace_if_not_exists(tables.cdr.split(".")[0])
    _with_current_properties(
        [
            ensure_table(catalog, tables.cdr, RAW_CDR_SCHEMA, day_partition="start_time"),
            ensure_table(catalog, tables.quarantine, QUARANTINE_SCHEMA, day_partition="quarantined_at"),
        ]
    )
    ensure_realtime_tables(catalog, tables)


def ensure_realtime_tables(catalog: Catalog, tables: StreamTables) -> None:
    """Create the real-time KPI tables (windows, alerts) and the live truth if missing: `lakehouse
    up` does, so that dashboards on them show an empty table, and scoring says there is nothing to
    score, not an error, before the stream first runs."""
    catalog.create_namespace_if_not_exists(tables.alerts.split(".")[0])
    catalog.create_namespace_if_not_exists(tables.live_truth.split(".")[0])
    _with_current_properties(
        [
            ensure_table(catalog, tables.cell_windows, CELL_WINDOW_SCHEMA, day_partition="window_start"),
            ensure_table(catalog, tables.alerts, ALERT_SCHEMA, day_partition="window_start"),
            ensure_table(catalog, tables.live_truth, LIVE_INCIDENTS_SCHEMA),
        ]
    )


def _with_current_properties(created: list[Table]) -> None:
    for table in created:  # tables made before these properties existed get them now
        missing = {k: v for k, v in TABLE_PROPERTIES.items() if table.properties.get(k) != v}
        if missing:
            with table.transaction() as tx:
                tx.set_properties(missing)
