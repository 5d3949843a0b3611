"""The streaming job on the real stack: Kafka -> Spark Structured Streaming -> Iceberg (via Trino).

One job runs for the module on a shared topic (garbage, kcat, concurrent batch, alerts); the
kill/restart test runs its own job on its own topic. Waits are readiness checks on the
lakehouse's own state (committed Kafka offsets, rows visible through Trino), never sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import confluent_kafka
import pyarrow as pa
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from app.stream_control import start_job
from core import clients
from core.kafka_auth import KAFKA_IDENTITIES
from core.run_metrics import read_samples
from core.settings import LakehouseSettings
from generator.config import load_config, scale_to_rows
from generator.run import Generation
from infra import kafka_access
from infra.process import ManagedProcess, apt_install
from ingestion.kafka_sink import CdrProducer
from ingestion.streaming.progress import ingested_offsets, lag, state_file
from ingestion.streaming.supervision import JobState
from tests.integration.conftest import run_cli, unique

pytestmark = pytest.mark.integration

NS = "it_stream"


def wait_until(condition: Callable[[], object], timeout: float = 240, what: str = "condition") -> object:
    """Poll ``condition`` every half second until it returns something truthy."""
    try:
        return Retrying(
            stop=stop_after_delay(timeout), wait=wait_fixed(0.5), retry=retry_if_result(lambda r: not r)
        )(condition)
    except RetryError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


def new_topic(settings: LakehouseSettings, prefix: str) -> str:
    """A fresh topic (the broker does not auto-create them), partitioned like the CDR topic, that
    the producer and the stream may use as they use the CDR topic."""
    topic = unique(prefix)
    admin = AdminClient(clients.kafka_config(settings, "admin"))
    admin.create_topics([NewTopic(topic, num_partitions=settings.kafka.partitions, replication_factor=1)])[
        topic
    ].result(30)
    kafka_access.grant_topic(settings, topic)
    return topic


def caught_up(settings: LakehouseSettings, topic: str) -> bool:
    return lag(settings, topic) == 0


@pytest.fixture(scope="module")
def stream_settings(settings: LakehouseSettings) -> LakehouseSettings:
    """The session stack, with the stream writing to its own namespaces, quick triggers and
    one-minute alert windows judged on a day's baseline, for a handful of test cells."""
    return settings.model_copy(
        update={
            "namespaces": settings.namespaces.model_copy(update={"raw": NS, "analytics": f"{NS}_analytics"}),
            "stream": settings.stream.model_copy(
                update={
                    "trigger_seconds": 1.0,
                    "alerts": settings.stream.alerts.model_copy(
                        update={
                            "trigger_seconds": 1.0,
                            "window_seconds": 60,
                            "lateness_seconds": 3600,
                            "baseline_days": 1,
                            "traffic_drop_sigmas": 3.0,
                        }
                    ),
                }
            ),
        }
    )


class Job:
    """`lakehouse stream run --topic <topic>` as a background process we may kill."""

    def __init__(self, settings: LakehouseSettings, topic: str) -> None:
        self.settings, self.topic = settings, topic
        run = settings.run_dir
        self.process = ManagedProcess(
            f"job-{topic}", run / f"job-{topic}.pid", settings.logs_dir / f"{topic}.log"
        )

    def start(self) -> None:
        start_job(self.process, self.settings, self.topic)

    def kill(self) -> None:
        """SIGKILL to the driver and its JVM: no shutdown hook, no graceful stop."""
        assert self.process.stop(timeout=0, first_signal=signal.SIGKILL), self.process.tail(80)

    def stop(self) -> None:
        self.process.stop(timeout=60)


@pytest.fixture(scope="module")
def shared_topic(stream_settings: LakehouseSettings) -> Iterator[str]:
    topic = new_topic(stream_settings, "it.cdr")
    job = Job(stream_settings, topic)
    job.start()
    yield topic
    alive = job.process.is_running()
    job.stop()
    assert alive, f"the streaming job died during the tests:\n{job.process.tail(60)}"


def events(rows: int, prefix: str, seed: int = 5) -> pa.Table:
    """Generated events (incidents, defects and all) whose record ids are unique and ours."""
    generation = Generation(scale_to_rows(load_config(days=1, subscribers=2_000, seed=seed), rows))
    table = pa.Table.from_batches([b for b, _ in generation.batches()])
    ids = pa.array([f"{prefix}-{i:07d}" for i in range(table.num_rows)])
    return table.set_column(table.schema.get_field_index("record_id"), "record_id", ids)


def count_ids(settings: LakehouseSettings, prefix: str) -> tuple[int, int]:
    ((total, distinct),) = clients.trino_query(
        settings,
        f"SELECT count(*), count(DISTINCT record_id) FROM {NS}.cdr WHERE record_id LIKE '{prefix}-%'",
    )
    return int(total), int(distinct)


@contextlib.contextmanager
def producing_slowly(settings: LakehouseSettings, topic: str, table: pa.Table, step: int) -> Iterator[None]:
    """Send ``table`` in the background, ``step`` events every half second, while the body runs;
    waits for the last event to be sent on leaving."""
    producer = CdrProducer(settings, topic)

    def produce() -> None:
        for i in range(0, table.num_rows, step):
            producer.send(table.slice(i, step))
            producer.flush()
            time.sleep(0.5)  # pacing the producer, not waiting for a result

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def test_sigkilled_job_restarts_without_losing_or_duplicating(stream_settings: LakehouseSettings) -> None:
    topic, prefix = new_topic(stream_settings, "it.kill"), unique("kill")
    data = events(60_000, prefix)
    producer = CdrProducer(stream_settings, topic)
    job = Job(stream_settings, topic)
    chunks = [data.slice(i, 10_000) for i in range(0, data.num_rows, 10_000)]
    try:
        job.start()
        for round_ in range(3):
            # Produce more, wait until the job has committed part of it, then kill it mid-stream.
            for chunk in chunks[2 * round_ : 2 * round_ + 2]:
                producer.send(chunk)
            producer.flush()
            before = sum(ingested_offsets(stream_settings, topic).values())
            wait_until(
                lambda b=before: sum(ingested_offsets(stream_settings, topic).values()) > b,
                what="a commit before the kill",
            )
            job.kill()
            job.start()
        for chunk in chunks[6:]:
            producer.send(chunk)
        producer.flush()
        wait_until(lambda: caught_up(stream_settings, topic), what="the job to catch up")
        assert count_ids(stream_settings, prefix) == (data.num_rows, data.num_rows)
    finally:
        job.stop()


def _garbage() -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, expected reason prefix) of malformed messages."""
    good = {"schema_version": 1, "record_id": "g-x", "record_type": "voice", "duration_s": 5}
    return [
        (None, b"{not json", "invalid_json"),
        (None, os.urandom(64), "invalid_json"),
        (None, b"[1, 2, 3]", "invalid_json"),
        (
            b"k",
            json.dumps({**good, "record_id": "g-1", "duration_s": "long"}).encode(),
            "wrong_type: duration_s",
        ),
        (
            b"k",
            json.dumps({**good, "record_id": "g-2", "start_time": 1735689600}).encode(),
            "wrong_type: start_time",
        ),
        (b"k", json.dumps({**good, "record_id": "g-3", "roaming": "yes"}).encode(), "wrong_type: roaming"),
        (
            b"k",
            json.dumps({k: v for k, v in good.items() if k != "record_id"}).encode(),
            "missing_field: record_id",
        ),
        (
            b"k",
            json.dumps({**good, "record_id": "g-4", "schema_version": 2}).encode(),
            "unsupported_schema_version",
        ),
        (b"k", json.dumps({"record_id": "g-5"}).encode(), "missing_field: schema_version"),
        # Values that look right but do not fit the column: these used to fail the micro-batch
        # on Spark's cast, for ever (issue 12); now they are quarantined like any other.
        (
            b"k",
            json.dumps({**good, "record_id": "g-6", "cause_code": 99999}).encode(),
            "out_of_range: cause_code",
        ),
        (
            b"k",
            json.dumps({**good, "record_id": "g-7", "start_time": "2026-02-30T10:00:00Z"}).encode(),
            "wrong_type: start_time",
        ),
        (
            b"k",
            b'{"schema_version":1,"record_id":"g-8"}{"schema_version":1,"record_id":"g-9"}',
            "invalid_json",
        ),
    ]


def test_garbage_goes_to_quarantine_and_dead_letters_while_valid_events_land(
    stream_settings: LakehouseSettings, shared_topic: str
) -> None:
    prefix = unique("mixed")
    valid = events(3_000, prefix, seed=6)
    garbage = _garbage()
    producer = CdrProducer(stream_settings, shared_topic)
    step = valid.num_rows // len(garbage)
    for i, (key, value, _) in enumerate(garbage):  # garbage between slices of valid events
        producer.send(valid.slice(i * step, step))
        producer.send_raw(key, value)
    producer.send(valid.slice(len(garbage) * step))
    producer.flush()
    wait_until(lambda: caught_up(stream_settings, shared_topic), what="the job to catch up")

    assert count_ids(stream_settings, prefix) == (valid.num_rows, valid.num_rows)
    # Bad input never fails a micro-batch: the job did not have to restart a query.
    state = JobState.read(state_file(stream_settings, shared_topic))
    assert state is not None and state.describe() == "running"
    # Its metrics count this test's rows (totals since the job started: at least these).
    metrics = {s.name: s.value for s in read_samples(stream_settings)[f"stream-cdr-{shared_topic}"]}
    assert metrics["lakehouse_stream_rows_landed_total"] >= valid.num_rows
    assert metrics["lakehouse_stream_rows_quarantined_total"] >= len(garbage)
    rows = clients.trino_query(
        stream_settings,
        f'SELECT message_value, reason, partition, "offset" FROM {NS}.cdr_quarantine '
        f"WHERE topic = '{shared_topic}'",
    )
    reasons = {bytes(value): reason for value, reason, _, _ in rows}
    assert len(rows) == len(garbage)
    for _, value, expected in garbage:
        assert reasons[value].startswith(expected), (value, reasons[value])

    sources = {f"{shared_topic}:{partition}:{offset}" for _, _, partition, offset in rows}
    dead = consume(
        stream_settings,
        stream_settings.kafka.dead_letter_topic,
        lambda messages: sources <= {(m.key() or b"").decode() for m in messages},
    )
    by_source = {(m.key() or b"").decode(): json.loads(m.value()) for m in dead}
    for _, reason, partition, offset in rows:
        letter = by_source[f"{shared_topic}:{partition}:{offset}"]
        assert letter["reason"] == reason


def consume(settings: LakehouseSettings, topic: str, enough: Callable[[list], bool]) -> list:
    """Messages of ``topic`` from its start until ``enough`` of them were read, as the admin (the
    test inspects). Other tests write to the same topics: wait for ours, not for a count."""
    consumer = Consumer(
        clients.kafka_config(settings, "admin", **{"group.id": unique("it"), "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    messages: list = []
    try:

        def read() -> bool:
            messages.extend(m for m in consumer.consume(100, timeout=1) if m.error() is None)
            return enough(messages)

        wait_until(read, timeout=60, what=f"the expected messages on {topic}")
    finally:
        consumer.close()
    return messages


@pytest.fixture(scope="module")
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        apt_install("kcat")
        path = shutil.which("kcat")
    assert path, "kcat is needed for this test: `sudo apt-get install kcat`"
    return path


def test_events_from_kcat_in_the_documented_format_are_ingested(
    stream_settings: LakehouseSettings, shared_topic: str, kcat: str, tmp_path: Path
) -> None:
    prefix = unique("kcat")
    lines = []
    for i in range(5):
        event = {
            "schema_version": 1,
            "record_id": f"{prefix}-{i}",
            "record_type": "voice",
            "served_msisdn": "213550000001",
            "other_party": "213660000002",
            "direction": "MO",
            "start_time": "2026-01-02T08:00:00Z",
            "end_time": "2026-01-02T08:01:30.5Z",
            "duration_s": 90 + i,
            "network_element_id": "ALG-S0001-1",
            "result": "answered",
            "cause_code": 16,
            "roaming": False,
        }  # fields left out (imsi, imei, bytes, apn) are null, as documented
        lines.append(f"213550000001|{json.dumps(event)}")
    # kcat authenticates as the producer from a config file: a password in argv shows in `ps`.
    config = tmp_path / "kcat.conf"
    config.touch(mode=0o600)
    config.write_text(
        "".join(f"{k}={v}\n" for k, v in clients.kafka_config(stream_settings, "producer").items())
    )
    # Debian's kcat links librdkafka 2.0.2, whose SCRAM proof Kafka 4 rejects (a nonce bug fixed
    # in librdkafka 2.6.1: edenhill/kcat#462): it runs on the librdkafka of our Python client.
    wheel_libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    (tmp_path / "librdkafka.so.1").symlink_to(next(wheel_libs.glob("librdkafka*.so.1")))
    subprocess.run(
        [kcat, "-F", str(config), "-P", "-t", shared_topic, "-K", "|"],
        env={**os.environ, "LD_LIBRARY_PATH": str(tmp_path)},
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        timeout=30,
    )
    wait_until(lambda: count_ids(stream_settings, prefix)[0] == 5, what="kcat's events in cdr")
    rows = clients.trino_query(
        stream_settings,
        f"SELECT record_id, duration_s, start_time, end_time, source, served_imsi FROM {NS}.cdr "
        f"WHERE record_id LIKE '{prefix}-%' ORDER BY record_id",
    )
    assert [r[1] for r in rows] == [90, 91, 92, 93, 94]
    assert rows[0][2] == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert rows[0][3] == datetime(2026, 1, 2, 8, 1, 30, 500000, tzinfo=UTC)
    assert {r[4] for r in rows} == {"stream"} and {r[5] for r in rows} == {None}


@pytest.mark.object_store
def test_batch_load_and_stream_commit_to_the_same_table_concurrently(
    stream_settings: LakehouseSettings, shared_topic: str
) -> None:
    prefix = unique("conc")
    streamed = events(40_000, prefix, seed=8)
    with producing_slowly(stream_settings, shared_topic, streamed, step=2_000):  # ~10 s of commits
        result = run_cli(
            stream_settings, "generate", "--namespace", NS, "--days", "1", "--subscribers", "3000",
            "--rows", "60000", "--seed", "31", "--report", str(stream_settings.home / "conc.json"),
        )  # fmt: skip
    report = json.loads((stream_settings.home / "conc.json").read_text())
    wait_until(lambda: caught_up(stream_settings, shared_topic), what="the job to catch up")

    assert count_ids(stream_settings, prefix) == (streamed.num_rows, streamed.num_rows)
    ((batch_rows,),) = clients.trino_query(
        stream_settings, f"SELECT count(*) FROM {NS}.cdr WHERE batch_id = '{report['batch_id']}'"
    )
    assert batch_rows == report["rows"] > 0, result.stdout


def test_an_outage_raises_an_alert_within_two_windows(
    stream_settings: LakehouseSettings, shared_topic: str
) -> None:
    # Event times far after anything else on the topic, so the watermark lets them all in. The
    # day before is the baseline: the same ten minutes, every cell carrying its usual traffic.
    base = datetime(2040, 1, 1, 10, 0, tzinfo=UTC)
    tag = unique("cell").upper()
    cells = [f"{tag}-{i}" for i in range(4)]
    outage_cell, outage_from = cells[1], base + timedelta(minutes=5)
    messages = []
    for day in (base - timedelta(days=1), base):
        for minute in range(10):
            for cell in cells:
                for k in range(40):
                    start = day + timedelta(minutes=minute, seconds=k)
                    down = cell == outage_cell and start >= outage_from
                    if down and k % 4:  # traffic moves to neighbours, the rest fails
                        continue
                    messages.append(
                        {
                            "schema_version": 1,
                            "record_id": f"{tag}-{cell}-{day:%d}-{minute}-{k}",
                            "record_type": "voice",
                            "start_time": start.isoformat().replace("+00:00", "Z"),
                            "network_element_id": cell,
                            "result": "failed" if down else "answered",
                            "cause_code": 38 if down else 16,
                        }
                    )
    # A later event closes the windows (watermark = latest event time - one hour of lateness).
    clock = {**messages[0], "record_id": f"{tag}-clock", "start_time": "2040-01-01T12:00:00Z"}
    producer = Producer(clients.kafka_config(stream_settings, "producer"))
    for message in [*messages, clock]:
        producer.produce(
            shared_topic, json.dumps(message).encode(), key=message["network_element_id"].encode()
        )
    producer.flush(30)

    def alerts() -> list:
        return clients.trino_query(
            stream_settings,
            f"SELECT alert_type, network_element_id, window_start FROM {NS}_analytics.realtime_alerts "
            f"WHERE network_element_id LIKE '{tag}-%' ORDER BY window_start",
        )

    def windows_closed() -> bool:
        ((n,),) = clients.trino_query(
            stream_settings,
            f"SELECT count(*) FROM {NS}_analytics.realtime_cell_windows "
            f"WHERE network_element_id LIKE '{tag}-%'",
        )
        return n == 2 * 10 * len(cells)

    wait_until(windows_closed, what="all ten windows of every cell, on both days, to close")
    raised = alerts()
    assert raised, "no alert for the outage"
    assert {cell for _, cell, _ in raised} == {outage_cell}, raised  # normal cells stay quiet
    first = min(start for _, _, start in raised)
    assert outage_from <= first < outage_from + timedelta(minutes=2)
    assert {kind for kind, _, _ in raised} >= {"failure_spike", "traffic_drop"}

    def outage_published(messages: list) -> bool:
        return any(json.loads(m.value()).get("network_element_id") == outage_cell for m in messages)

    assert consume(stream_settings, stream_settings.kafka.alerts_topic, outage_published)


def test_maintenance_while_streaming_compacts_and_keeps_every_row(
    stream_settings: LakehouseSettings, shared_topic: str
) -> None:
    prefix = unique("maint")
    streamed = events(20_000, prefix, seed=9)
    with producing_slowly(stream_settings, shared_topic, streamed, step=1_000):  # commits go on
        result = run_cli(stream_settings, "maintain", "--older-than-hours", "1")
    wait_until(lambda: caught_up(stream_settings, shared_topic), what="the job to catch up")

    assert count_ids(stream_settings, prefix) == (streamed.num_rows, streamed.num_rows)
    line = next(x for x in result.stdout.splitlines() if x.startswith(f"{NS}.cdr:"))
    before, after = (int(n) for n in re.search(r"files (\d+) -> (\d+)", line).groups())  # type: ignore[union-attr]
    assert after < before, line


def test_the_job_leaves_no_kafka_password_in_its_log_or_checkpoints(
    stream_settings: LakehouseSettings, shared_topic: str
) -> None:
    # Spark gets the JAAS config as a source/sink option: it must not print or checkpoint it.
    job_log = stream_settings.logs_dir / f"{shared_topic}.log"
    assert job_log.stat().st_size > 0  # the shared job has been logging all along
    passwords = {i: stream_settings.kafka.require_password(i) for i in KAFKA_IDENTITIES}
    scanned = 0
    for root in (stream_settings.logs_dir, stream_settings.checkpoints_dir, stream_settings.run_dir):
        for path in (p for p in root.rglob("*") if p.is_file()):
            text = path.read_bytes().decode(errors="replace")
            leaked = [i for i, p in passwords.items() if p in text]
            assert not leaked, f"the {leaked} password in {path}"
            scanned += 1
    assert scanned > 10, scanned
