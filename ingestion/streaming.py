"""Run the streaming job, and manage it and the live producer as background processes.

``make stream`` starts both detached, with pid files and logs beside the stack's
(``.lakehouse/run``, ``.lakehouse/logs``); ``make status`` lists them; ``make stream-stop`` stops
the producer first, then the job (SIGTERM: Spark stops its queries between micro-batches).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from infra.process import ManagedProcess
from ingestion.stream_tables import StreamTables, ensure_stream_tables
from lakehouse import clients
from lakehouse.exceptions import ServiceStartError
from lakehouse.settings import LakehouseSettings

log = logging.getLogger(__name__)

JOB, PRODUCER = "stream-job", "stream-producer"
RESTART_PAUSE_SECONDS = 5.0
WATCH_SECONDS = 30  # at most this long between checks that every query runs


def ready_file(settings: LakehouseSettings, topic: str | None = None) -> Path:
    """Exists while a job's queries run on ``topic``."""
    return settings.run_dir / f"{JOB}.{topic or settings.kafka.cdr_topic}.ready"


def topic_end_offsets(settings: LakehouseSettings, topic: str) -> dict[int, int]:
    """Next offset to be written, per partition of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        clients.kafka_config(settings, **{"group.id": "lakehouse-lag", "enable.auto.commit": False})
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
    finally:
        consumer.close()


def ingested_offsets(settings: LakehouseSettings, topic: str) -> dict[int, int]:
    """Offsets of ``topic`` the job has committed to Iceberg (cdr or quarantine), per partition."""
    from ingestion.stream_job import offsets_property

    tables = StreamTables.of(settings.stream.namespace, settings.stream.alerts_namespace)
    catalog = clients.iceberg_catalog(settings)
    key = offsets_property(topic)
    done: dict[int, int] = {}
    for name in (tables.cdr, tables.quarantine):
        if not catalog.table_exists(name):
            continue
        snapshots = sorted(catalog.load_table(name).snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
        recorded = next((s.summary.get(key) for s in snapshots if s.summary and s.summary.get(key)), None)
        for partition, offset in json.loads(recorded or "{}").items():
            done[int(partition)] = max(done.get(int(partition), 0), int(offset))
    return done


def batch_end_offsets(checkpoint: Path, batch_id: int, topic: str) -> dict[int, int]:
    """Next offset per partition after micro-batch ``batch_id``, from the query's offset log.

    Spark writes ``offsets/<id>`` before it runs the batch (and finds it again on a replay);
    line 3 holds the source's end offsets, ``{"<topic>": {"<partition>": <next offset>}}``.
    Reading it costs no Spark job, unlike a max(offset) over the batch.
    """
    lines = (checkpoint / "offsets" / str(batch_id)).read_text().splitlines()
    return {int(p): int(o) for p, o in json.loads(lines[2]).get(topic, {}).items()}


def processed_offsets(settings: LakehouseSettings, topic: str) -> dict[int, int]:
    """Next offset per partition after the CDR query's last completed micro-batch.

    A batch is in the commit log (``commits/<id>``) only once every write of the batch (DLQ,
    quarantine, raw.cdr) is done, unlike a single table's snapshot marker.
    """
    checkpoint = settings.checkpoints_dir / topic / "cdr"
    done = [int(p.name) for p in (checkpoint / "commits").glob("*") if p.name.isdigit()]
    return batch_end_offsets(checkpoint, max(done), topic) if done else {}


def lag(settings: LakehouseSettings, topic: str | None = None) -> int:
    """Records on the topic the streaming job has not yet fully processed."""
    topic = topic or settings.kafka.cdr_topic
    done = processed_offsets(settings, topic)
    return sum(max(0, end - done.get(p, 0)) for p, end in topic_end_offsets(settings, topic).items())


def run_job(settings: LakehouseSettings, topic: str | None = None) -> None:
    """Run the CDR and alert queries until stopped, restarting a query that fails.

    A query that dies (a broker restart, a lost commit race beyond Iceberg's retries, or
    SPARK-55271: Spark 4.1.1's Kafka source fails the progress report of the batch it replays
    after a restart, once the batch is committed) resumes from its checkpoint after a pause:
    exactly once still holds, and bad input never gets here, since it is quarantined by the
    CDR query rather than raised.
    """
    from pyspark.errors import StreamingQueryException

    from ingestion.alerts import start_alert_query
    from ingestion.spark import spark_session
    from ingestion.stream_job import start_cdr_query

    topic = topic or settings.kafka.cdr_topic
    tables = StreamTables.of(settings.stream.namespace, settings.stream.alerts_namespace)
    ensure_stream_tables(clients.iceberg_catalog(settings), tables)
    spark = spark_session(settings, f"cdr-stream:{topic}")
    starters = {"cdr": start_cdr_query}
    if settings.stream.alerts.enabled:
        starters["alerts"] = start_alert_query
    queries = {name: start(spark, settings, topic) for name, start in starters.items()}
    marker = ready_file(settings, topic)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"topic": topic, "queries": {n: str(q.id) for n, q in queries.items()}}))
    log.info("streaming %s into %s (trigger %ss)", topic, tables.cdr, settings.stream.trigger_seconds)
    try:
        while True:
            # Reset first, then look at every query: a query that ended while another was
            # being restarted is still seen (resetTerminated forgets which one ended).
            spark.streams.resetTerminated()
            for name, query in list(queries.items()):
                if query.isActive:
                    continue
                log.error("query %s stopped: %s; restarting from its checkpoint", name, query.exception())
                time.sleep(RESTART_PAUSE_SECONDS)
                queries[name] = starters[name](spark, settings, topic)
            with contextlib.suppress(StreamingQueryException):  # handled on the next turn
                spark.streams.awaitAnyTermination(WATCH_SECONDS)
    finally:
        marker.unlink(missing_ok=True)


def _lakehouse(*args: str) -> list[str]:
    """argv of a `lakehouse` command of this environment."""
    return [str(Path(sys.executable).with_name("lakehouse")), *args]


def start_job(
    process: ManagedProcess, settings: LakehouseSettings, topic: str | None = None, timeout: float = 300
) -> None:
    """Start `lakehouse stream run` as ``process`` and wait until its queries run."""
    marker = ready_file(settings, topic)
    marker.unlink(missing_ok=True)
    argv = _lakehouse("stream", "run", *(["--topic", topic] if topic else []))
    process.start(argv, env=settings.to_env())

    def probe() -> bool:
        if not process.is_running():
            raise ServiceStartError(process.name, "the process exited", process.log_file, process.tail())
        return marker.exists()

    try:
        Retrying(
            stop=stop_after_delay(timeout), wait=wait_fixed(0.5), retry=retry_if_result(lambda r: not r)
        )(probe)
    except RetryError:
        raise ServiceStartError(
            process.name, f"queries not running within {timeout:.0f}s", process.log_file, process.tail()
        ) from None


@dataclass(frozen=True)
class StreamProcess:
    """One background process of the stream with what `status` shows."""

    name: str
    pid: int | None
    rss_bytes: int | None
    log_file: Path


class StreamProcesses:
    """The detached streaming job and live producer."""

    def __init__(self, settings: LakehouseSettings) -> None:
        self.settings = settings
        self.job = self._process(JOB)
        self.producer = self._process(PRODUCER)

    def _process(self, name: str) -> ManagedProcess:
        return ManagedProcess(
            name, self.settings.run_dir / f"{name}.pid", self.settings.logs_dir / f"{name}.log"
        )

    def start(self, rate: float, pace: str, timeout: float = 300) -> None:
        """Start the job (waiting until its queries run), then the producer."""
        env = self.settings.to_env()
        if not self.job.is_running():
            start_job(self.job, self.settings, timeout=timeout)
        if not self.producer.is_running():
            self.producer.start(_lakehouse("stream", "produce", "--rate", str(rate), "--pace", pace), env=env)

    def stop(self) -> list[str]:
        """Stop the producer, then the job. Returns the names that were running."""
        return [p.name for p in (self.producer, self.job) if p.stop(timeout=60)]

    def status(self) -> list[StreamProcess]:
        return [StreamProcess(p.name, p.pid(), p.rss_bytes(), p.log_file) for p in (self.job, self.producer)]
