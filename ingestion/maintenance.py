"""Table maintenance for tables a stream commits to every few seconds, safe while it writes.

Trino runs it: ``optimize`` rewrites small files into large ones (a rewrite commit, which
concurrent appends do not conflict with: Iceberg retries whichever commit loses the race),
``expire_snapshots`` drops old snapshots (each micro-batch made one), ``remove_orphan_files``
deletes files no snapshot references (left by failed writes), only when older than the
retention, so files of a commit in flight are never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core import clients
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings

# Files below this are rewritten; streamed files are a few MB, batch files are larger.
SMALL_FILE = "32MB"


@dataclass(frozen=True)
class MaintenanceReport:
    table: str
    files_before: int
    files_after: int
    snapshots_before: int
    snapshots_after: int
    seconds: float


def _counts(settings: LakehouseSettings, schema: str, table: str) -> tuple[int, int]:
    ((files,),) = clients.trino_query(settings, f'SELECT count(*) FROM "{table}$files"', schema)
    ((snapshots,),) = clients.trino_query(settings, f'SELECT count(*) FROM "{table}$snapshots"', schema)
    return int(files), int(snapshots)


def maintain_table(settings: LakehouseSettings, name: str, older_than_hours: float) -> MaintenanceReport:
    """Compact, expire and clean one table (``namespace.table``)."""
    schema, table = name.split(".")
    began = time.monotonic()
    files_before, snapshots_before = _counts(settings, schema, table)
    retention = f"{older_than_hours:.2f}h"
    for procedure in (
        f"optimize(file_size_threshold => '{SMALL_FILE}')",
        f"expire_snapshots(retention_threshold => '{retention}')",
        f"remove_orphan_files(retention_threshold => '{retention}')",
    ):
        clients.trino_query(settings, f"ALTER TABLE {table} EXECUTE {procedure}", schema)
    files_after, snapshots_after = _counts(settings, schema, table)
    return MaintenanceReport(
        name, files_before, files_after, snapshots_before, snapshots_after, time.monotonic() - began
    )


def maintain_tables(settings: LakehouseSettings, older_than_hours: float = 24.0) -> list[MaintenanceReport]:
    """Maintain every table the streaming job writes."""
    tables = StreamTables.of(settings.namespaces)
    return [maintain_table(settings, name, older_than_hours) for name in tables.all]
