"""Streaming benchmarks: Kafka -> Spark -> Iceberg throughput, freshness, files, maintenance.

- Throughput: a topic prefilled with events is drained by a freshly started job; the sustained
  rate is rows committed between the first and the last micro-batch over that time (the first
  batch also pays for JIT and planning, reported apart as time to catch up).
- Freshness: while a producer sends at 10k events/s, a probe event goes out every second; a
  poller asks Trino every second which probes are visible. Freshness = seen - sent.
- Files: data files the stream adds per hour at the trigger interval; maintenance then shows
  what compaction does to the file count and to a scan through Trino.
"""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from confluent_kafka.admin import AdminClient, NewTopic

from app.stream_control import start_job
from core import clients
from core.settings import LakehouseSettings
from generator.config import load_config, scale_to_rows
from generator.run import Generation
from infra import kafka_access
from infra.process import ManagedProcess
from ingestion.kafka_sink import CdrProducer
from ingestion.maintenance import maintain_table
from ingestion.streaming.progress import lag

NAMESPACE = "bench_stream"  # a bench_* schema: dropped with the others afterwards
POLL_SECONDS = 1.0  # each poll is a Trino query on the same two cores: do not starve the job
PROBE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)  # probes live in their own day partition


@dataclass
class StreamBenchResult:
    """What the streaming benchmarks measured (rates in events/s, times in seconds)."""

    trigger_seconds: float
    alerts: bool
    prefilled: int = 0
    produce_rate: float = 0.0
    catch_up_s: float = 0.0
    sustained_rate: float = 0.0
    freshness_rate: float = 0.0
    freshness_p50_s: float = 0.0
    freshness_p95_s: float = 0.0
    probes: int = 0
    files_per_hour: float = 0.0
    commits_per_hour: float = 0.0
    maintenance: dict[str, float] = field(default_factory=dict)


def _events(rows: int, prefix: str, seed: int) -> pa.Table:
    generation = Generation(scale_to_rows(load_config(seed=seed), rows))
    table = pa.Table.from_batches([b for b, _ in generation.batches()])
    ids = pa.array([f"{prefix}-{i:08d}" for i in range(table.num_rows)])
    return table.set_column(table.schema.get_field_index("record_id"), "record_id", ids)


def _probe(template: pa.Table, n: int) -> pa.Table:
    """One event whose id and time mark it as probe ``n``."""
    row = template.slice(0, 1)
    start = pa.array([PROBE_EPOCH + timedelta(seconds=n)], row.schema.field("start_time").type)
    row = row.set_column(row.schema.get_field_index("record_id"), "record_id", pa.array([f"probe-{n:06d}"]))
    return row.set_column(row.schema.get_field_index("start_time"), "start_time", start)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark: timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def _snapshots(settings: LakehouseSettings) -> list[tuple[datetime, int, int]]:
    """(committed_at, added records, added data files) of every append to the bench cdr table."""
    rows = clients.trino_query(
        settings,
        "SELECT committed_at, CAST(summary['added-records'] AS bigint), "
        "CAST(summary['added-data-files'] AS bigint) FROM \"cdr$snapshots\" "
        "WHERE operation = 'append' ORDER BY committed_at",
        NAMESPACE,
    )
    return [(at, int(records or 0), int(files or 0)) for at, records, files in rows]


def _scan_seconds(settings: LakehouseSettings) -> float:
    """Best of three: a full scan aggregate of the bench cdr table through Trino."""
    sql = "SELECT count(*), sum(duration_s), count(DISTINCT network_element_id) FROM cdr"
    times = []
    for _ in range(3):
        began = time.perf_counter()
        clients.trino_query(settings, sql, NAMESPACE)
        times.append(time.perf_counter() - began)
    return min(times)


def run(
    settings: LakehouseSettings,
    prefill: int = 1_500_000,
    fresh_rate: float = 10_000.0,
    fresh_seconds: float = 60.0,
    alerts: bool = True,
    say: Callable[[str], None] = print,
) -> StreamBenchResult:
    """Run the streaming benchmarks on the running stack, in a throwaway topic and namespace."""
    stream = settings.stream.model_copy(
        update={
            "max_offsets_per_trigger": 250_000,  # several commits to time
            "alerts": settings.stream.alerts.model_copy(update={"enabled": alerts}),
        }
    )
    namespaces = settings.namespaces.model_copy(update={"raw": NAMESPACE, "analytics": NAMESPACE})
    bench = settings.model_copy(update={"stream": stream, "namespaces": namespaces})
    topic = f"bench.cdr.{int(time.time())}"
    admin = AdminClient(clients.kafka_config(bench, "admin"))
    new = NewTopic(topic, num_partitions=bench.kafka.partitions, replication_factor=1)
    admin.create_topics([new])[topic].result(30)
    if bench.kafka.managed:  # the producer and the stream may use it as they use the CDR topic
        kafka_access.grant_topic(bench, topic)
    job = ManagedProcess(
        "bench-stream-job", bench.run_dir / "bench-stream-job.pid", bench.logs_dir / "bench-stream-job.log"
    )
    producer = CdrProducer(bench, topic)
    try:
        result = StreamBenchResult(trigger_seconds=bench.stream.trigger_seconds, alerts=alerts)
        _throughput(bench, topic, job, producer, prefill, result, say)
        _freshness(bench, producer, fresh_rate, fresh_seconds, result, say)
        _maintenance(bench, result, say)
        return result
    finally:
        job.stop(timeout=60)
        admin.delete_topics([topic])
        if bench.kafka.managed:
            kafka_access.revoke_topic(bench, topic)
        shutil.rmtree(bench.checkpoints_dir / topic, ignore_errors=True)


def _throughput(
    bench: LakehouseSettings,
    topic: str,
    job: ManagedProcess,
    producer: CdrProducer,
    prefill: int,
    result: StreamBenchResult,
    say: Callable[[str], None],
) -> None:
    """Prefill the topic, then drain it with a cold job."""
    events = _events(prefill, "tput", seed=71)
    began = time.perf_counter()
    producer.send(events)
    producer.flush()
    result.prefilled = events.num_rows
    result.produce_rate = events.num_rows / (time.perf_counter() - began)
    say(f"  prefilled {events.num_rows:,} events at {result.produce_rate:,.0f}/s; starting the job")
    start_job(job, bench, topic)
    began = time.perf_counter()
    _wait(lambda: lag(bench, topic) == 0, 1800, "the job to drain the prefilled topic")
    result.catch_up_s = time.perf_counter() - began
    commits = _snapshots(bench)
    span = (commits[-1][0] - commits[0][0]).total_seconds()
    # The first commit's rows were read before the clock of the span started.
    result.sustained_rate = sum(r for _, r, _ in commits[1:]) / span if span > 0 else float("nan")
    say(
        f"  drained in {result.catch_up_s:.1f} s; sustained {result.sustained_rate:,.0f} events/s "
        f"over {len(commits)} commits"
    )


def _freshness(
    bench: LakehouseSettings,
    producer: CdrProducer,
    rate: float,
    seconds: float,
    result: StreamBenchResult,
    say: Callable[[str], None],
) -> None:
    """Produce at ``rate`` for ``seconds`` with a probe a second; time until Trino sees each."""
    flow = _events(int(rate * seconds), "fresh", seed=72)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    producing = threading.Event()
    producing.set()

    def poll() -> None:
        deadline = None
        while len(seen) < len(sent) or producing.is_set():
            rows = clients.trino_query(
                bench,
                "SELECT record_id FROM cdr WHERE start_time < TIMESTAMP '2002-01-01 00:00:00 UTC'",
                NAMESPACE,
            )
            now = time.time()
            for (record_id,) in rows:
                seen.setdefault(record_id, now)
            if not producing.is_set():
                deadline = deadline or now + 120
                if now > deadline:
                    return
            time.sleep(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    commits_before = len(_snapshots(bench))
    start = time.time()
    step_rows = int(rate / 10)
    for step, first in enumerate(range(0, flow.num_rows, step_rows)):
        if (ahead := start + step / 10 - time.time()) > 0:
            time.sleep(ahead)
        producer.send(flow.slice(first, step_rows))
        if step % 10 == 0:  # one probe a second; its clock starts as it is produced
            probe = _probe(flow, step // 10)
            sent[probe.column("record_id")[0].as_py()] = time.time()
            producer.send(probe)
            producer.flush(5)
    producer.flush()
    elapsed = time.time() - start
    producing.clear()
    poller.join(180)
    delays = sorted(seen[p] - sent[p] for p in sent if p in seen)
    if len(delays) < len(sent):
        raise RuntimeError(f"benchmark: only {len(delays)} of {len(sent)} probes became visible")
    window = _snapshots(bench)[commits_before:]
    span = (window[-1][0] - window[0][0]).total_seconds() or 1.0
    result.freshness_rate = flow.num_rows / elapsed
    result.freshness_p50_s = statistics.median(delays)
    result.freshness_p95_s = delays[max(0, round(0.95 * len(delays)) - 1)]
    result.probes = len(delays)
    result.files_per_hour = sum(f for _, _, f in window) / span * 3600
    result.commits_per_hour = len(window) / span * 3600
    say(
        f"  freshness at {result.freshness_rate:,.0f} events/s: p50 {result.freshness_p50_s:.1f} s, "
        f"p95 {result.freshness_p95_s:.1f} s ({len(delays)} probes)"
    )


def _maintenance(bench: LakehouseSettings, result: StreamBenchResult, say: Callable[[str], None]) -> None:
    """Compact the bench table while the job still runs; scan time before and after."""
    scan_before = _scan_seconds(bench)
    report = maintain_table(bench, f"{NAMESPACE}.cdr", older_than_hours=1)
    scan_after = _scan_seconds(bench)
    result.maintenance = {
        "files_before": report.files_before,
        "files_after": report.files_after,
        "seconds": report.seconds,
        "scan_before_s": scan_before,
        "scan_after_s": scan_after,
    }
    say(
        f"  maintenance: files {report.files_before} -> {report.files_after} in {report.seconds:.1f} s; "
        f"scan {scan_before:.2f} s -> {scan_after:.2f} s"
    )
