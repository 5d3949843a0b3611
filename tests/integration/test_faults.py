"""The fault matrix: each service SIGKILLed in the middle of each phase that uses it.

Phases: a batch load (`lakehouse generate` into Iceberg), a pipeline run (`lakehouse pipeline`)
and the streaming job ingesting a topic. Each test waits for a real sign that its phase is under
way (a commit of the batch, the pipeline's dbt step starting, the job's first commit), kills the
service, restarts it through the launcher, then checks the phase recovered or failed clearly, a
re-run completes and no record is lost or duplicated. The outcomes become RELIABILITY.md.

The faults run on namespaces of their own (``flt_*``), so other modules' counts stay exact.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed
from trino.exceptions import TrinoQueryError

from core import clients
from core.settings import PROJECT_ROOT, LakehouseSettings, NamespaceSettings
from generator.config import GeneratorConfig, load_config, scale_to_rows
from generator.run import Generation, batch_id_of
from infra.launcher import Launcher
from ingestion.iceberg_batch import BATCH_PROPERTY
from ingestion.kafka_sink import CdrProducer
from ingestion.streaming.progress import ingested_offsets, lag, state_file
from ingestion.streaming.supervision import JobState
from tests.integration.conftest import run_cli, unique
from tests.integration.faults import (
    Background,
    Outcome,
    ReliabilityReport,
    Skipped,
    error_line,
    kill_service,
    multiset_diff,
    rerun_result,
    verdict,
)
from tests.integration.test_pipeline import _restore_dbt_settings  # noqa: F401 - autouse here too
from tests.integration.test_stream import Job, events, new_topic, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

# (phase, service) pairs left out of the matrix, and why: the phase never connects to the service.
NOT_USED = {
    ("batch", "trino"): "`generate` writes through PyIceberg (PostgreSQL catalog + MinIO), never Trino",
    ("batch", "kafka"): "`generate --to iceberg` never connects to Kafka",
    ("pipeline", "kafka"): "the pipeline reads raw tables through Trino; it never connects to Kafka",
    ("stream", "trino"): "the job commits through Spark's Iceberg runtime (catalog + MinIO), never Trino",
}
SERVICES = ("minio", "postgres", "trino", "kafka")
PHASES = ("batch", "pipeline", "stream")
GENERATE = ("generate", "--days", "1", "--subscribers", "2000", "--seed", "5")
# The batch phase loads big batches into a namespace of its own (the kill must land while the
# CDR files upload); the pipeline builds small ones (its cost is dbt's and the gates', per run).
BATCH_NS, BATCH_ROWS, PIPELINE_ROWS = "flt_batch", 150_000, 20_000
# A command that neither ends nor fails within this long after its service came back hangs.
HANG_S = 420


def matrix(phase: str) -> list[object]:
    """The services of one phase, those it does not use marked skipped with the reason."""
    return [
        pytest.param(s, marks=pytest.mark.skip(reason=NOT_USED[phase, s])) if (phase, s) in NOT_USED else s
        for s in SERVICES
    ]


@pytest.fixture(scope="session")
def reliability() -> Iterator[ReliabilityReport]:
    """Collects every cell; writes RELIABILITY.md once the whole matrix has run."""
    began = time.monotonic()  # requested first by every test: the stack's start counts too
    report = ReliabilityReport(planned=len(SERVICES) * len(PHASES))
    report.skipped = [Skipped(p, s, reason) for (p, s), reason in NOT_USED.items()]
    yield report
    if report.complete():
        report.write(PROJECT_ROOT / "RELIABILITY.md", time.monotonic() - began)


@pytest.fixture(scope="module")
def fault_settings(settings: LakehouseSettings) -> LakehouseSettings:
    layers = NamespaceSettings().model_dump()
    return settings.model_copy(
        update={"namespaces": NamespaceSettings(**{layer: f"flt_{name}" for layer, name in layers.items()})}
    )


def generate_args(day: int, rows: int = PIPELINE_ROWS) -> list[str]:
    """One day of CDRs; a distinct ``day`` is a distinct batch."""
    args = [*GENERATE, "--start", f"2026-01-{day:02d}", "--rows", str(rows)]
    return [*args, "--namespace", BATCH_NS] if rows == BATCH_ROWS else args


def generator_config(settings: LakehouseSettings, day: int) -> GeneratorConfig:
    """The config `lakehouse <generate_args(day)>` builds, so the test can rebuild its rows."""
    cfg = load_config(
        seed=5, days=1, subscribers=2000, start=datetime(2026, 1, day), time_zone=settings.time_zone
    )
    return scale_to_rows(cfg, BATCH_ROWS)


def read(settings: LakehouseSettings, sql: str) -> list[list[object]]:
    """A query of the test's own checks. Tried up to three times: the first Trino query after
    PostgreSQL restarts fails once on a stale pooled catalog connection (GENERIC_INTERNAL_ERROR
    "Cannot check and eventually update SQL schema"; Trino's JDBC catalog pool), a finding of
    the matrix outside this repo's code, which must not stop the checks of the data."""
    return Retrying(
        stop=stop_after_attempt(3),
        wait=wait_fixed(1),
        retry=retry_if_exception_type(TrinoQueryError),
        reraise=True,
    )(clients.trino_query, settings, sql)


def committed(settings: LakehouseSettings, table: str, batch_id: str) -> bool:
    """Whether ``table`` has a snapshot of ``batch_id`` (False while a service is down)."""
    try:
        loaded = clients.iceberg_catalog(settings).load_table(table)
    except Exception:  # noqa: BLE001 - not there yet, or the catalog is the one being killed
        return False
    return any(
        s.summary is not None and s.summary.get(BATCH_PROPERTY) == batch_id for s in loaded.snapshots()
    )


def _restart(launcher: Launcher, service: str) -> float:
    kill_service(launcher, service)
    return launcher.restart(service)


@pytest.mark.parametrize("service", matrix("batch"))
def test_batch_load(
    reliability: ReliabilityReport, service: str, launcher: Launcher, fault_settings: LakehouseSettings
) -> None:
    day = {"minio": 5, "postgres": 6}[service]
    cfg_batch = batch_id_of(generator_config(fault_settings, day))
    truth = f"{BATCH_NS}_truth.defects"
    load = Background(fault_settings, *generate_args(day, BATCH_ROWS))
    try:
        # The truth is committed just before the CDRs: the kill lands while their files upload.
        wait_until(lambda: committed(fault_settings, truth, cfg_batch) or not load.running(), timeout=300)
        assert load.running(), "the load ended before the kill: make the batch bigger"
        killed_at = time.monotonic()
        restart_s = _restart(launcher, service)
        first = load.finish(HANG_S)
    finally:
        load.kill()
    rerun = run_cli(fault_settings, *generate_args(day, BATCH_ROWS), check=False)
    recover_s = time.monotonic() - killed_at

    produced = Counter(
        rid
        for batch, _ in Generation(generator_config(fault_settings, day)).batches()
        for rid in batch["record_id"].to_pylist()
    )
    found = Counter(
        dict(
            read(
                fault_settings,
                f"SELECT record_id, count(*) FROM {BATCH_NS}.cdr WHERE batch_id = '{cfg_batch}' GROUP BY 1",
            )
        )
    )
    lost, duplicated = multiset_diff(produced, found)
    row = reliability.add(
        Outcome(
            "batch", service, verdict(first), error_line(first) if first.returncode else "",
            sum(produced.values()), sum(found.values()), lost, duplicated,
            rerun=rerun_result(rerun),
            restart_s=restart_s, recover_s=recover_s,
        )
    )  # fmt: skip
    assert row.outcome.startswith(("recovered", "failed clearly")), first.stderr[-3000:]
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (lost, duplicated) == (0, 0)


def clean_equals_raw_valid(settings: LakehouseSettings) -> tuple[int, int, int]:
    """(valid rows in raw, rows in clean, distinct record ids in clean): the queries of
    test_pipeline, over every batch of the fault namespaces."""
    raw, clean = settings.namespaces.raw, settings.namespaces.clean
    ((raw_rows,),) = read(settings, f"SELECT count(*) FROM {raw}.cdr")
    ((defects,),) = read(settings, f"SELECT count(*) FROM {raw}_truth.defects")
    union = " UNION ALL ".join(
        f"SELECT record_id FROM {clean}.{t}" for t in ("voice_calls", "sms_messages", "data_sessions")
    )
    ((rows, distinct),) = read(settings, f"SELECT count(*), count(DISTINCT record_id) FROM ({union})")
    return raw_rows - defects, rows, distinct


@pytest.mark.parametrize("service", matrix("pipeline"))
def test_pipeline_run(
    reliability: ReliabilityReport, service: str, launcher: Launcher, fault_settings: LakehouseSettings
) -> None:
    day = {"minio": 7, "postgres": 8, "trino": 9}[service]
    run_cli(fault_settings, *generate_args(day))  # new raw rows for this run to build
    run = Background(fault_settings, "pipeline")
    try:
        run.wait_for_line("[dbt build clean] ...", timeout=300)  # past the raw gate, dbt at work
        killed_at = time.monotonic()
        restart_s = _restart(launcher, service)
        first = run.finish(HANG_S)
    finally:
        run.kill()
    rerun = run_cli(fault_settings, "pipeline", check=False)
    recover_s = time.monotonic() - killed_at

    valid, rows, distinct = clean_equals_raw_valid(fault_settings)
    row = reliability.add(
        Outcome(
            "pipeline", service, verdict(first), error_line(first) if first.returncode else "",
            valid, rows, max(0, valid - distinct), rows - distinct,
            clean=f"{rows:,} = {valid:,}" if rows == valid else f"NO: {rows:,} ≠ {valid:,}",
            rerun=rerun_result(rerun),
            restart_s=restart_s, recover_s=recover_s,
        )
    )  # fmt: skip
    assert row.outcome.startswith(("recovered", "failed clearly")), first.stderr[-3000:]
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "pipeline succeeded" in rerun.stdout
    assert rows == distinct == valid


@pytest.fixture(scope="module")
def stream_settings(fault_settings: LakehouseSettings) -> LakehouseSettings:
    """The stream on its own raw namespace, in small micro-batches (so a kill lands mid-way)
    and without the alerts query (two cores: the CDR query is what the matrix is about)."""
    return fault_settings.model_copy(
        update={
            "namespaces": fault_settings.namespaces.model_copy(update={"raw": "flt_stream"}),
            "stream": fault_settings.stream.model_copy(
                update={
                    "trigger_seconds": 1.0,
                    "max_offsets_per_trigger": 3_000,
                    "alerts": fault_settings.stream.alerts.model_copy(update={"enabled": False}),
                }
            ),
        }
    )


@pytest.fixture(scope="module")
def stream_job(stream_settings: LakehouseSettings) -> Iterator[Job]:
    job = Job(stream_settings, new_topic(stream_settings, "flt.cdr"))
    job.start()
    yield job
    job.stop()


def _ids(settings: LakehouseSettings, prefix: str) -> tuple[int, int]:
    ((total, distinct),) = read(
        settings,
        f"SELECT count(*), count(DISTINCT record_id) FROM {settings.namespaces.raw}.cdr "
        f"WHERE record_id LIKE '{prefix}-%'",
    )
    return int(total), int(distinct)


def _landed(settings: LakehouseSettings, job: Job, prefix: str, count: int) -> bool:
    """The job has processed the whole topic and every event of ``prefix`` is in raw.cdr."""
    if not job.process.is_running():
        return True  # dead: stop waiting, the caller says so
    try:
        return lag(settings, job.topic) == 0 and _ids(settings, prefix)[1] >= count
    except Exception:  # noqa: BLE001 - a service is still coming back
        return False


def _ingested(settings: LakehouseSettings, topic: str) -> int:
    try:
        return sum(ingested_offsets(settings, topic).values())
    except Exception:  # noqa: BLE001 - the catalog or the store is the one being killed
        return -1


@pytest.mark.parametrize("service", matrix("stream"))
def test_stream(
    reliability: ReliabilityReport,
    service: str,
    launcher: Launcher,
    stream_settings: LakehouseSettings,
    stream_job: Job,
) -> None:
    prefix, topic = unique(f"flt-{service}"), stream_job.topic
    data = events(30_000, prefix)
    before = _ingested(stream_settings, topic)
    producer = CdrProducer(stream_settings, topic)
    producer.send(data)
    producer.flush()
    # Mid-stream: the job committed part of the events (3,000 a micro-batch), not all of them.
    wait_until(lambda: _ingested(stream_settings, topic) > before, what="a commit of the new events")
    assert lag(stream_settings, topic) > 0, "the job took every event before the kill"
    killed_at = time.monotonic()
    restart_s = _restart(launcher, service)
    wait_until(lambda: _landed(stream_settings, stream_job, prefix, data.num_rows), timeout=HANG_S)
    outcome = "recovered (job restarted its queries)"
    if not stream_job.process.is_running():
        state = JobState.read(state_file(stream_settings, topic))
        outcome = f"failed: job {state.describe() if state else 'died'}"
        stream_job.start()  # the re-run: a new job resumes from the checkpoint
        wait_until(lambda: _landed(stream_settings, stream_job, prefix, data.num_rows), timeout=HANG_S)
    recover_s = time.monotonic() - killed_at

    more_prefix = unique(f"flt-{service}-again")
    more = events(3_000, more_prefix, seed=6)
    again_producer = CdrProducer(stream_settings, topic)
    again_producer.send(more)
    again_producer.flush()
    wait_until(lambda: _landed(stream_settings, stream_job, more_prefix, more.num_rows), timeout=HANG_S)
    again = _ids(stream_settings, more_prefix)
    total, distinct = _ids(stream_settings, prefix)
    row = reliability.add(
        Outcome(
            "stream", service, outcome, "", data.num_rows, total, data.num_rows - distinct, total - distinct,
            rerun="ok" if again == (more.num_rows, more.num_rows) else f"FAILED: {again}",
            restart_s=restart_s, recover_s=recover_s,
        )
    )  # fmt: skip
    assert row.outcome.startswith("recovered"), stream_job.process.tail(60)
    assert again == (more.num_rows, more.num_rows)
    assert (total, distinct) == (data.num_rows, data.num_rows)
