"""The streaming job: the CDR and alert queries in one Spark driver, restarted when they fail.

Run in the foreground by ``lakehouse stream run``; ``make stream`` starts that command in the
background (``app.stream_control``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core import clients
from core.contracts.stream_tables import StreamTables
from core.exceptions import StreamJobFailedError
from core.settings import LakehouseSettings
from ingestion.streaming.alerts import start_alert_query
from ingestion.streaming.metrics import record_job_state
from ingestion.streaming.progress import ready_file, state_file
from ingestion.streaming.session import spark_session
from ingestion.streaming.supervision import JobState, QueryHealth, RestartPolicy
from ingestion.streaming.tables import ensure_stream_tables
from ingestion.streaming.writer import start_cdr_query

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

WATCH_SECONDS = 30  # at most this long between checks that every query runs

QueryStarter = Callable[["SparkSession", LakehouseSettings, str], "StreamingQuery"]


def run_job(
    settings: LakehouseSettings,
    java_home: Path,
    jars: Sequence[Path],
    topic: str | None = None,
    policy: RestartPolicy | None = None,
) -> None:
    """Run the CDR and alert queries until stopped, restarting a query that fails.

    A query that dies (a broker restart, a lost commit race beyond Iceberg's retries, or
    SPARK-55271: Spark 4.1.1's Kafka source fails the progress report of the batch it replays
    after a restart, once the batch is committed) resumes from its checkpoint after a pause
    that grows with each failure in a row (``supervision.RestartPolicy``): exactly once still
    holds. After too many failures in a row without progress, StreamJobFailedError ends the job.
    """
    from pyspark.errors import StreamingQueryException

    topic = topic or settings.kafka.cdr_topic
    tables = StreamTables.of(settings.namespaces)
    ensure_stream_tables(clients.iceberg_catalog(settings), tables)
    spark = spark_session(settings, f"cdr-stream:{topic}", java_home, jars)
    starters: dict[str, QueryStarter] = {"cdr": start_cdr_query}
    if settings.stream.alerts.enabled:
        starters["alerts"] = start_alert_query
    queries = {name: start(spark, settings, topic) for name, start in starters.items()}
    marker = ready_file(settings, topic)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"topic": topic, "queries": {n: str(q.id) for n, q in queries.items()}}))
    log.info("streaming %s into %s (trigger %ss)", topic, tables.cdr, settings.stream.trigger_seconds)
    policy = policy or RestartPolicy()
    health = {name: QueryHealth() for name in queries}
    state = state_file(settings, topic)

    def report(job_state: JobState) -> None:
        job_state.write(state)  # for make status
        restarts = {name: q.restarts for name, q in job_state.queries.items()}
        record_job_state(settings, topic, job_state.state == "failed", restarts)  # for Prometheus

    report(JobState.of(health))
    try:
        while True:
            # Reset first, then look at every query: a query that ended while another was
            # being restarted is still seen (resetTerminated forgets which one ended).
            spark.streams.resetTerminated()
            for name, query in list(queries.items()):
                if query.isActive:
                    health[name].progressed((query.lastProgress or {}).get("batchId"))
                    continue
                error = str(query.exception())
                pause = health[name].failed(error, policy)
                report(JobState.of(health))
                log.error("query %s stopped: %s; restarting from its checkpoint in %.0fs", name, error, pause)
                time.sleep(pause)
                queries[name] = starters[name](spark, settings, topic)
            report(JobState.of(health))
            with contextlib.suppress(StreamingQueryException):  # handled on the next turn
                spark.streams.awaitAnyTermination(WATCH_SECONDS)
    except StreamJobFailedError:
        report(JobState.of(health, failed=True))
        raise
    finally:
        marker.unlink(missing_ok=True)
