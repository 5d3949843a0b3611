"""The alerts query under SIGKILL: alerts and windows land exactly once whatever point the crash hit.

The query commits twice per micro-batch that closes windows: the alerts it raised, then the
windows. A fail point holds the job right after an alerts commit (waiting for the moment from
outside would hit it only by luck: the windows commit follows within a second); the test kills
it there, checks the ledgers say so, and restarts it. The replayed micro-batch must write neither
table twice, and the windows of every minute must still land.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer

from core import clients, failpoints
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from ingestion.streaming.alerts import AFTER_ALERTS_COMMIT
from ingestion.streaming.ledger import micro_batch_property, processed_offsets, recorded_micro_batches
from ingestion.streaming.source import checkpoint_dir
from tests.integration.conftest import unique
from tests.integration.test_stream import Job, new_topic, stream_settings, wait_until  # noqa: F401

ROUNDS = 2  # kills at the fail point, each followed by a restart (each costs a minute on 2 cores)
CELLS = 4  # of which the first fails every call: a failure_spike in each of its windows
CALLS = 10  # per cell and minute: a failing cell fails more than min_failures (5)


def _micro_batches(settings: LakehouseSettings, table: str, key: str) -> int:
    """The last alerts micro-batch ``table``'s snapshots record (-1 when none yet)."""
    loaded = clients.iceberg_catalog(settings).load_table(table)
    return recorded_micro_batches(loaded).get(key, -1)


def _minute(tag: str, cells: list[str], base: datetime, minute: int) -> list[dict]:
    return [
        {
            "schema_version": 1,
            "record_id": f"{tag}-{cell}-{minute}-{k}",
            "record_type": "voice",
            "start_time": (base + timedelta(minutes=minute, seconds=k)).isoformat().replace("+00:00", "Z"),
            "network_element_id": cell,
            "result": "failed" if cell == cells[0] else "answered",
            "cause_code": 38 if cell == cells[0] else 16,
        }
        for cell in cells
        for k in range(CALLS)
    ]


def test_a_kill_between_the_alerts_and_windows_commits_duplicates_neither(
    stream_settings: LakehouseSettings,  # noqa: F811 - the fixture, imported
    tmp_path: Path,
) -> None:
    # No lateness: a minute's windows close as soon as a later minute is seen.
    alerts = stream_settings.stream.alerts.model_copy(update={"lateness_seconds": 0})
    holds = tmp_path / "failpoints"
    settings = stream_settings.model_copy(
        update={
            "stream": stream_settings.stream.model_copy(update={"alerts": alerts, "failpoints_dir": holds})
        }
    )
    tables = StreamTables.of(settings.namespaces)
    topic, tag = new_topic(settings, "it.alerts-kill"), unique("ak").upper()
    cells = [f"{tag}-{i}" for i in range(CELLS)]
    base = datetime(2045, 1, 1, tzinfo=UTC)
    producer = Producer(clients.kafka_config(settings, "producer"))

    def send(minutes: range) -> None:
        for minute in minutes:
            for event in _minute(tag, cells, base, minute):
                producer.produce(topic, json.dumps(event).encode(), key=event["network_element_id"].encode())
        producer.flush(30)

    job = Job(settings, topic)
    reached = failpoints.arm(holds, AFTER_ALERTS_COMMIT)
    try:
        job.start()
        checkpoint = checkpoint_dir(settings, topic, "alerts")
        key = micro_batch_property(json.loads((checkpoint / "metadata").read_text())["id"])
        for round_ in range(ROUNDS):
            send(range(2 * round_, 2 * round_ + 2))  # closes the minutes of the round before
            wait_until(reached.exists, what=f"the job to hold after an alerts commit in round {round_}")
            job.kill()
            reached.unlink()
            # Nothing commits after SIGKILL: the ledgers say the kill landed between the commits.
            alerts_done = _micro_batches(settings, tables.alerts, key)
            assert alerts_done > _micro_batches(settings, tables.cell_windows, key), round_
            if round_ == ROUNDS - 1:
                failpoints.disarm(holds, AFTER_ALERTS_COMMIT)  # the rest runs through
            job.start()
            # The replay writes the held micro-batch's windows, not its alerts again.
            wait_until(
                lambda d=alerts_done: _micro_batches(settings, tables.cell_windows, key) >= d,
                what=f"the replayed windows commit of round {round_}",
            )
        send(range(2 * ROUNDS, 2 * ROUNDS + 1))  # a later minute closes every window sent before
        expected_windows = CELLS * 2 * ROUNDS

        def windows() -> list:
            return clients.trino_query(
                settings,
                f"SELECT count(*), count(DISTINCT network_element_id || CAST(window_start AS varchar)) FROM "
                f"{tables.cell_windows} WHERE network_element_id LIKE '{tag}-%'",
            )[0]

        wait_until(lambda: windows()[0] >= expected_windows, what="every window to close")
        # The micro-batch that wrote the last windows is in Spark's commit log: nothing is replayed.
        done = _micro_batches(settings, tables.cell_windows, key)
        wait_until(
            lambda: max((int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")), default=-1) >= done,
            what="Spark to commit the last alerts micro-batch",
        )
        assert processed_offsets(checkpoint, topic)
    finally:
        job.stop()

    assert windows() == [expected_windows, expected_windows]
    ((total, distinct, spikes),) = clients.trino_query(
        settings,
        f"SELECT count(*), count(DISTINCT alert_id), count_if(alert_type = 'failure_spike' "
        f"AND network_element_id = '{cells[0]}') FROM {tables.alerts} "
        f"WHERE network_element_id LIKE '{tag}-%'",
    )
    # One failure_spike per window of the failing cell, each once; the other cells stay quiet.
    assert (total, distinct, spikes) == (2 * ROUNDS, 2 * ROUNDS, 2 * ROUNDS)
