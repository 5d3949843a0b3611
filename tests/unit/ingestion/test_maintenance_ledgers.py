"""The stream's ledgers survive expiring the snapshots that recorded them (``make maintain``).

On a real Iceberg table in a local SQLite catalog (PyIceberg, no services): both kinds of ledger
the streaming job relies on for exactly once - the CDR query's Kafka offsets and the alerts
query's micro-batch ids - are read, lost to an expiry, and committed again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from core.contracts.stream_tables import ALERT_SCHEMA
from ingestion.maintenance import Ledgers, carry_ledgers_forward
from ingestion.streaming.ledger import (
    NOTHING_COMMITTED,
    micro_batch_property,
    offsets_property,
    recorded_micro_batches,
)

QUERY = "5f0c1d9e-0000-4000-8000-000000000001"


@pytest.fixture
def table(tmp_path: Path) -> Table:
    catalog = SqlCatalog(
        "unit", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=f"file://{tmp_path / 'warehouse'}"
    )
    catalog.create_namespace("analytics")
    return catalog.create_table("analytics.realtime_alerts", ALERT_SCHEMA)


def _commit(table: Table, properties: dict[str, str]) -> None:
    """An append of no rows recording ``properties`` (what a stream commit records)."""
    table.append(pa.Table.from_pylist([], schema=ALERT_SCHEMA), snapshot_properties=properties)


def _expire_all_but_current(table: Table) -> None:
    table.refresh()
    current = table.current_snapshot()
    assert current is not None
    old = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current.snapshot_id]
    table.maintenance.expire_snapshots().by_ids(old).commit()
    table.refresh()


def test_the_micro_batch_ledger_is_the_highest_batch_per_query(table: Table) -> None:
    other = "5f0c1d9e-0000-4000-8000-000000000002"
    for batch in (3, 11, 7):  # out of order: the highest wins, whatever the snapshot order
        _commit(table, {micro_batch_property(QUERY): str(batch)})
    _commit(table, {micro_batch_property(other): "2", offsets_property("cdr"): json.dumps({"0": 5})})
    assert recorded_micro_batches(table) == {micro_batch_property(QUERY): 11, micro_batch_property(other): 2}


def test_a_table_without_ledger_records_nothing(table: Table) -> None:
    _commit(table, {})
    assert recorded_micro_batches(table) == {}
    assert Ledgers.of(table) == Ledgers()


def test_both_ledgers_survive_expiring_every_snapshot_that_recorded_them(table: Table) -> None:
    _commit(table, {micro_batch_property(QUERY): "41", offsets_property("cdr"): json.dumps({"0": 9, "1": 4})})
    _commit(table, {micro_batch_property(QUERY): "42"})
    before = Ledgers.of(table)
    _commit(table, {})  # a commit of another writer (or a compaction): it records no ledger
    _expire_all_but_current(table)
    # The precondition that makes the test mean something: the ledgers are gone.
    assert Ledgers.of(table) == Ledgers()

    carried = carry_ledgers_forward(table, before)

    assert carried == sorted([micro_batch_property(QUERY), offsets_property("cdr")])
    assert Ledgers.of(table) == Ledgers(
        {offsets_property("cdr"): {0: 9, 1: 4}}, {micro_batch_property(QUERY): 42}
    )


def test_nothing_is_carried_while_a_ledger_is_still_recorded(table: Table) -> None:
    _commit(table, {micro_batch_property(QUERY): "8"})
    before = Ledgers.of(table)
    snapshots = len(table.snapshots())
    assert carry_ledgers_forward(table, before) == []
    assert len(table.snapshots()) == snapshots  # no empty commit for nothing


def test_a_carried_ledger_never_moves_a_later_commit_back(table: Table) -> None:
    _commit(table, {micro_batch_property(QUERY): "5"})
    before = Ledgers.of(table)
    _expire_all_but_current(table)
    _commit(table, {micro_batch_property(QUERY): "9"})  # the stream went on meanwhile
    _expire_all_but_current(table)

    assert carry_ledgers_forward(table, before) == []
    assert recorded_micro_batches(table)[micro_batch_property(QUERY)] == 9


def test_what_is_behind_is_what_a_later_reading_lacks() -> None:
    key = micro_batch_property(QUERY)
    before = Ledgers({offsets_property("t"): {0: 10, 1: 3}}, {key: 6})
    assert Ledgers({offsets_property("t"): {0: 10, 1: 3}}, {key: 6}).behind(before) == {}
    assert Ledgers({offsets_property("t"): {0: 12, 1: 3}}, {key: 7}).behind(before) == {}
    assert Ledgers({offsets_property("t"): {0: 12}}, {}).behind(before) == {
        offsets_property("t"): json.dumps({"0": 10, "1": 3}),
        key: "6",
    }
    assert NOTHING_COMMITTED < 0  # batch 0 is a real micro-batch and must be carried too
    assert Ledgers().behind(Ledgers({}, {key: 0})) == {key: "0"}
