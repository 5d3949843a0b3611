"""`lakehouse generate` into the real stack: Iceberg on MinIO through the shared catalog, and Kafka."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from confluent_kafka import Consumer

from core import clients
from core.settings import LakehouseSettings
from tests.integration.conftest import LAKEHOUSE, run_cli, unique


@pytest.mark.object_store
def test_generate_lands_in_iceberg_once_and_trino_agrees_with_the_report(
    settings: LakehouseSettings, tmp_path: Path
) -> None:
    namespace = unique("gen")
    report_file = tmp_path / "report.json"
    args = ["generate", "--days", "2", "--subscribers", "3000", "--seed", "11", "--namespace", namespace]
    run_cli(settings, *args, "--report", str(report_file))
    report = json.loads(report_file.read_text())
    assert report["rows"] > 100_000

    by_type = clients.trino_query(
        settings, f"SELECT coalesce(record_type, 'null'), count(*) FROM {namespace}.cdr GROUP BY 1"
    )
    assert dict(by_type) == report["by_type"]
    defects = clients.trino_query(
        settings, f"SELECT defect_type, count(*) FROM {namespace}_truth.defects GROUP BY 1"
    )
    assert dict(defects) == {k: v for k, v in report["defects"].items() if v}
    assert clients.trino_query(settings, f"SELECT count(*) FROM {namespace}.subscribers") == [
        [report["subscribers"]]
    ]
    days = clients.trino_query(settings, f'SELECT count(*) FROM {namespace}."cdr$partitions"')[0][0]
    assert days >= 3, "partitioned by UTC day of start_time"

    # The same batch again adds nothing.
    second = run_cli(settings, *args)
    assert "already loaded" in second.stdout
    total = clients.trino_query(settings, f"SELECT count(*) FROM {namespace}.cdr")[0][0]
    assert total == report["rows"]

    # PyIceberg and Trino read the same snapshot of the same table.
    table = clients.iceberg_catalog(settings).load_table(f"{namespace}.cdr")
    latest = clients.trino_query(
        settings, f'SELECT snapshot_id FROM {namespace}."cdr$snapshots" ORDER BY committed_at DESC LIMIT 1'
    )
    assert latest == [[table.current_snapshot().snapshot_id]]
    assert table.scan(selected_fields=("record_id",)).to_arrow().num_rows == total


def test_generate_to_kafka_sends_every_event_in_the_documented_format(
    settings: LakehouseSettings, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    seed = str(int.from_bytes(os.urandom(4), "big"))
    run_cli(settings, "generate", "--to", "kafka", "--days", "1", "--subscribers", "300", "--rows", "3000",
            "--seed", seed, "--report", str(report_file))  # fmt: skip
    report = json.loads(report_file.read_text())
    run_tag = report["batch_id"][4:12]

    consumer = Consumer(
        clients.kafka_config(
            settings, "admin", **{"group.id": unique("gen"), "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([settings.kafka.cdr_topic])
    seen: dict[str, dict] = {}
    try:
        for _ in range(120):
            for message in consumer.consume(5000, timeout=1.0):
                if message.error():
                    continue
                event = json.loads(message.value())
                if event["record_id"].startswith(run_tag):
                    assert event["schema_version"] == 1
                    assert message.key() == (event["served_msisdn"] or "").encode() or message.key() is None
                    seen.setdefault(event["record_id"], event)
            if len(seen) >= report["rows"] - report["defects"]["duplicate"]:
                break
    finally:
        consumer.close()
    assert len(seen) == report["rows"] - report["defects"]["duplicate"]
    sample = next(e for e in seen.values() if e["record_type"] == "voice" and e["start_time"])
    assert sample["start_time"].endswith("Z") and "T" in sample["start_time"]


def _commits(settings: LakehouseSettings, namespaces: tuple[str, ...]) -> int:
    """Commits so far to the tables of ``namespaces``: the sum of their metadata versions, read
    from the catalog database (``00003-<uuid>.metadata.json`` is a table's third commit)."""
    conn = clients.postgres_connection(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT metadata_location FROM iceberg_tables WHERE table_namespace = ANY(%s)",
                (list(namespaces),),
            )
            return sum(int(Path(location).name.split("-", 1)[0]) for (location,) in cur.fetchall())
    finally:
        conn.close()


def _contents(settings: LakehouseSettings, namespace: str) -> dict[str, pd.DataFrame]:
    """Every table of a loaded batch (and its truth), rows sorted, load-time stamps dropped."""
    catalog = clients.iceberg_catalog(settings)
    found = {}
    for ns in (namespace, f"{namespace}_truth"):
        for _, name in catalog.list_tables(ns):
            frame = (
                catalog.load_table(f"{ns}.{name}")
                .scan()
                .to_pandas()
                .drop(columns=["ingested_at"], errors="ignore")
            )
            found[f"{ns.removeprefix(namespace)}.{name}"] = frame.sort_values(
                list(frame.columns)
            ).reset_index(drop=True)
    return found


# One kill point on the other S3 servers (object_store): the commit protocol is the same.
@pytest.mark.parametrize("kill_after_commits", [1, pytest.param(4, marks=pytest.mark.object_store), 6])
def test_a_load_killed_between_its_commits_converges_when_run_again(
    settings: LakehouseSettings, kill_after_commits: int
) -> None:
    """A batch is seven commits (four reference tables, two truth tables, the CDRs last): killed
    after any of them, the re-run ends in the state an uninterrupted load reaches."""
    args = ["generate", "--days", "1", "--subscribers", "1000", "--seed", "17"]
    control, interrupted = unique("whole"), unique("killed")
    run_cli(settings, *args, "--namespace", control)

    load = subprocess.Popen(
        [LAKEHOUSE, *args, "--namespace", interrupted],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **settings.to_env()},
    )
    watched = (interrupted, f"{interrupted}_truth")
    try:
        while _commits(settings, watched) < kill_after_commits:
            assert load.poll() is None, "the load ended before the kill point"
    finally:
        load.kill()
        load.wait()
    assert _commits(settings, watched) < 7, "killed before the CDRs landed"

    run_cli(settings, *args, "--namespace", interrupted)
    expected, got = _contents(settings, control), _contents(settings, interrupted)
    assert set(got) == set(expected)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)
