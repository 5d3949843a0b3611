"""Ledgers that survive maintenance of any retention (issue 12): a batch is loaded once and a
Kafka offset is taken once even after every snapshot that recorded them has been expired."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pyarrow as pa

from core import clients
from core.contracts.raw_tables import RAW_CDR_SCHEMA
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from ingestion.iceberg_batch import BATCH_PROPERTY
from ingestion.streaming.ledger import offsets_property
from ingestion.streaming.progress import ingested_offsets
from ingestion.streaming.tables import ensure_stream_tables
from tests.integration.conftest import run_cli, unique


def _in_namespace(settings: LakehouseSettings, namespace: str) -> LakehouseSettings:
    namespaces = settings.namespaces.model_copy(update={"raw": namespace, "analytics": f"{namespace}_rt"})
    return settings.model_copy(update={"namespaces": namespaces})


def _insert_one_row(settings: LakehouseSettings, table: str) -> None:
    """A commit that records no ledger (as any other writer's would)."""
    clients.trino_query(
        settings,
        f"INSERT INTO {table} (record_id, ingested_at, source) "
        f"VALUES ('{unique('other')}', current_timestamp, 'stream')",
    )


def _summaries(settings: LakehouseSettings, table: str) -> list[dict[str, str]]:
    table_ = clients.iceberg_catalog(settings).load_table(table)
    return [dict(s.summary.additional_properties) for s in table_.snapshots() if s.summary is not None]


def test_a_batch_is_not_loaded_again_after_maintenance_expired_its_snapshot(
    settings: LakehouseSettings,
) -> None:
    ours = _in_namespace(settings, unique("it_ledger"))
    raw = ours.namespaces.raw
    generate = ["generate", "--days", "1", "--subscribers", "300", "--seed", "21"]
    run_cli(ours, *generate)
    ((loaded,),) = clients.trino_query(ours, f"SELECT count(*) FROM {raw}.cdr")
    assert loaded > 1_000
    _insert_one_row(ours, f"{raw}.cdr")
    maintained = run_cli(ours, "maintain", "--older-than-hours", "0")
    assert f"{raw}.cdr:" in maintained.stdout
    # The precondition that makes this test mean something: no snapshot names the batch any more.
    assert not any(BATCH_PROPERTY in summary for summary in _summaries(ours, f"{raw}.cdr"))

    again = run_cli(ours, *generate)
    assert "nothing added" in again.stdout
    ((rows,),) = clients.trino_query(ours, f"SELECT count(*) FROM {raw}.cdr")
    assert rows == loaded + 1


def test_the_offsets_ledger_survives_expiring_every_snapshot_that_recorded_it(
    settings: LakehouseSettings,
) -> None:
    ours = _in_namespace(settings, unique("it_offsets"))
    tables = StreamTables.of(ours.namespaces)
    ensure_stream_tables(clients.iceberg_catalog(ours), tables)
    topic = unique("it.topic")
    ledger = {"0": 120, "1": 75, "2": 3}
    cdr = clients.iceberg_catalog(ours).load_table(tables.cdr)
    row = {"record_id": unique("r"), "ingested_at": datetime.now(UTC), "source": "stream"}
    rows = pa.Table.from_pylist([row], schema=RAW_CDR_SCHEMA)
    cdr.append(rows, snapshot_properties={offsets_property(topic): json.dumps(ledger)})
    before = ingested_offsets(ours, topic)
    assert before == {int(p): o for p, o in ledger.items()}
    _insert_one_row(ours, tables.cdr)

    maintained = run_cli(ours, "maintain", "--older-than-hours", "0")
    assert re.search(rf"{re.escape(tables.cdr)}: files \d+ -> \d+", maintained.stdout)
    assert ingested_offsets(ours, topic) == before
    # A later, further commit wins: the carried ledger never moves the stream back.
    cdr.refresh()
    cdr.append(rows, snapshot_properties={offsets_property(topic): json.dumps({"0": 130})})
    assert ingested_offsets(ours, topic) == {0: 130, 1: 75, 2: 3}
