"""The live producer's truth: one copy per run and cycle, however often it is recorded."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from core.contracts.raw_tables import INCIDENTS_SCHEMA
from core.contracts.stream_tables import LIVE_INCIDENTS_SCHEMA, live_truth_table
from ingestion.live_truth import record_live_truth

US = 1_000_000
DAY_US = 86_400 * US


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    return SqlCatalog(
        "unit", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=f"file://{tmp_path / 'warehouse'}"
    )


def _truth(incidents: int, offset_us: int = 0) -> pa.Table:
    return pa.table(
        {
            "incident_id": [f"cell_outage-{i:03d}" for i in range(incidents)],
            "incident_type": ["cell_outage"] * incidents,
            "element_id": [f"ALG-S{i:04d}-1" for i in range(incidents)],
            "start_time": [offset_us + i * 3_600 * US for i in range(incidents)],
            "end_time": [offset_us + (i + 1) * 3_600 * US for i in range(incidents)],
            "subscriber_id": [None] * incidents,
            "msisdn": [None] * incidents,
        },
        schema=INCIDENTS_SCHEMA,
    )


def _rows(catalog: SqlCatalog) -> list[dict]:
    table = catalog.load_table(live_truth_table("raw")).scan().to_arrow()
    return sorted(table.to_pylist(), key=lambda r: (r["run_id"], r["cycle"], r["incident_id"]))


def test_a_cycle_recorded_twice_is_there_once(catalog: SqlCatalog) -> None:
    assert record_live_truth(catalog, "raw", "live-7-100", 0, (0, DAY_US), _truth(3)) == 3
    record_live_truth(catalog, "raw", "live-7-100", 0, (0, DAY_US), _truth(3))
    rows = _rows(catalog)
    assert len(rows) == 3
    assert {(r["run_id"], r["cycle"]) for r in rows} == {("live-7-100", 0)}
    assert rows[0]["cycle_end"].timestamp() * US == DAY_US


def test_cycles_and_runs_keep_their_own_rows(catalog: SqlCatalog) -> None:
    record_live_truth(catalog, "raw", "live-7-100", 0, (0, DAY_US), _truth(3))
    record_live_truth(catalog, "raw", "live-7-100", 1, (DAY_US, 2 * DAY_US), _truth(2, DAY_US))
    record_live_truth(catalog, "raw", "live-8-200", 0, (0, DAY_US), _truth(1))
    # A cycle recorded again with other incidents replaces its own rows, nobody else's.
    record_live_truth(catalog, "raw", "live-7-100", 1, (DAY_US, 2 * DAY_US), _truth(4, DAY_US))
    counts: dict[tuple[str, int], int] = {}
    for row in _rows(catalog):
        counts[row["run_id"], row["cycle"]] = counts.get((row["run_id"], row["cycle"]), 0) + 1
    assert counts == {("live-7-100", 0): 3, ("live-7-100", 1): 4, ("live-8-200", 0): 1}


def test_the_table_has_the_contract_schema_beside_the_raw_namespace(catalog: SqlCatalog) -> None:
    record_live_truth(catalog, "it_raw", "live-1-1", 0, (0, DAY_US), _truth(1))
    table = catalog.load_table("it_raw_truth.live_incidents")
    assert [f.name for f in table.schema().fields] == LIVE_INCIDENTS_SCHEMA.names
    assert table.schema().find_field("run_id").doc


def test_two_producers_recording_at_once_both_land(catalog: SqlCatalog) -> None:
    record_live_truth(catalog, "raw", "live-0-0", 0, (0, DAY_US), _truth(1))  # the table exists
    errors: list[BaseException] = []

    def record(run_id: str) -> None:
        try:
            record_live_truth(catalog, "raw", run_id, 0, (0, DAY_US), _truth(2))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=record, args=(f"live-{i}-1",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert {r["run_id"] for r in _rows(catalog)} == {"live-0-0", "live-1-1", "live-2-1"}
    assert len(_rows(catalog)) == 5
