"""Table maintenance for tables a stream commits to every few seconds, safe while it writes.

Trino runs it: ``optimize`` rewrites small files into large ones (a rewrite commit, which
concurrent appends do not conflict with: Iceberg retries whichever commit loses the race),
``expire_snapshots`` drops old snapshots (each micro-batch made one), ``remove_orphan_files``
deletes files no snapshot references (left by failed writes), only when older than the
retention, so files of a commit in flight are never touched.

The ledgers survive it: the stream's Kafka offsets (CDR query) and micro-batch ids (alerts query)
live in snapshot summaries, so a ledger that expiring snapshots took away is committed again
(:func:`carry_ledgers_forward`); batch loads find their batch id in the rows themselves
(``ingestion.iceberg_batch.holds_batch``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from pyiceberg.table import Table

from core import clients
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from ingestion.streaming import ledger

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Ledgers:
    """The stream's ledgers one table records: Kafka offsets per topic, micro-batch ids per query."""

    offsets: dict[str, ledger.Offsets] = field(default_factory=dict)
    micro_batches: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, table: Table) -> Ledgers:
        """What the table's snapshots record, each ledger at its furthest."""
        return cls(ledger.recorded_offsets(table), ledger.recorded_micro_batches(table))

    def behind(self, before: Ledgers) -> dict[str, str]:
        """Summary properties of the ledgers ``before`` had further than these (what was lost)."""
        lost = {
            key: json.dumps({str(p): o for p, o in offsets.items()})
            for key, offsets in before.offsets.items()
            if ledger.merge_offsets(self.offsets.get(key, {}), offsets) != self.offsets.get(key, {})
        }
        lost.update(
            (key, str(batch))
            for key, batch in before.micro_batches.items()
            if batch > self.micro_batches.get(key, ledger.NOTHING_COMMITTED)
        )
        return lost


def carry_ledgers_forward(table: Table, before: Ledgers) -> list[str]:
    """Commit ``before`` again where expiring snapshots took a ledger away; returns those keys.

    The commit is an append of no files whose summary holds the ledgers: the stream's
    exactly-once checks read the furthest offsets (or micro-batch) over all snapshots, so this can
    only keep a ledger, never move it back (a stream commit racing it records one at least as far).
    """
    table.refresh()
    lost = Ledgers.of(table).behind(before)
    if lost:
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=lost).fast_append():
            pass
    return sorted(lost)


def maintain_table(settings: LakehouseSettings, name: str, older_than_hours: float) -> MaintenanceReport:
    """Compact, expire and clean one table (``namespace.table``), keeping its stream ledgers."""
    schema, table = name.split(".")
    began = time.monotonic()
    iceberg_table = clients.iceberg_catalog(settings).load_table(name)
    ledgers = Ledgers.of(iceberg_table)
    files_before, snapshots_before = _counts(settings, schema, table)
    retention = f"{older_than_hours:.2f}h"
    for procedure in (
        f"optimize(file_size_threshold => '{SMALL_FILE}')",
        f"expire_snapshots(retention_threshold => '{retention}')",
        f"remove_orphan_files(retention_threshold => '{retention}')",
    ):
        clients.trino_query(settings, f"ALTER TABLE {table} EXECUTE {procedure}", schema)
    carried = carry_ledgers_forward(iceberg_table, ledgers)
    if carried:
        log.info("%s: carried %s forward past expired snapshots", name, ", ".join(carried))
    files_after, snapshots_after = _counts(settings, schema, table)
    return MaintenanceReport(
        name, files_before, files_after, snapshots_before, snapshots_after, time.monotonic() - began
    )


def maintain_tables(settings: LakehouseSettings, older_than_hours: float = 24.0) -> list[MaintenanceReport]:
    """Maintain every table the streaming job writes (those that exist: before the first
    stream there may be only raw.cdr)."""
    catalog = clients.iceberg_catalog(settings)
    names = [name for name in StreamTables.of(settings.namespaces).all if catalog.table_exists(name)]
    return [maintain_table(settings, name, older_than_hours) for name in names]
