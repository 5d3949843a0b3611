"""The live stream as the web page shows it: start/stop, throughput, lag and the latest alerts.

Starting runs ``lakehouse stream start`` (the same command as ``make stream``) as a detached
process, because the Spark job's first micro-batch takes a minute and the page must not wait on
it. Alerts are read through Trino as the **analyst**, on the read-only catalog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.stream_control import StreamProcess, StreamProcesses, lakehouse_argv
from core import clients
from core.settings import LakehouseSettings
from infra.process import ManagedProcess
from ingestion.streaming.progress import lag, processed_offsets


def _starter(settings: LakehouseSettings) -> ManagedProcess:
    return ManagedProcess(
        "ui-stream-start", settings.run_dir / "ui-stream-start.pid", settings.logs_dir / "ui-stream-start.log"
    )


def start_stream(settings: LakehouseSettings, rate: float) -> None:
    """Start the job and the producer in the background at ``rate`` events/s."""
    if rate <= 0:
        raise ValueError(f"rate: must be greater than 0 events/s; got {rate!r}")
    starter = _starter(settings)
    if not starter.is_running():
        starter.start(lakehouse_argv("stream", "start", "--rate", str(rate)), env=settings.to_env())


def stop_stream(settings: LakehouseSettings) -> list[str]:
    """Stop the producer, then the job (as ``make stream-stop``)."""
    _starter(settings).stop(timeout=10)
    return StreamProcesses(settings).stop()


@dataclass(frozen=True)
class LiveSnapshot:
    """One look at the stream."""

    taken: float  # time.monotonic()
    processes: list[StreamProcess]
    starting: bool
    processed: int | None  # Kafka offsets the job has committed, all partitions
    lag: int | None  # records in Kafka not yet in Iceberg
    alerts: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # why a number is missing (a service down...)

    @property
    def job_running(self) -> bool:
        return any(p.name == "stream-job" and p.pid for p in self.processes)


def snapshot(settings: LakehouseSettings, alerts: int = 10) -> LiveSnapshot:
    """Processes, progress, lag and latest alerts; a service that cannot be asked is reported
    in ``problem`` instead of failing the page."""
    processes = StreamProcesses(settings).status()
    starting = _starter(settings).is_running()
    running = any(p.name == "stream-job" and p.pid for p in processes)
    if not running:
        return LiveSnapshot(time.monotonic(), processes, starting, None, None)
    topic = settings.kafka.cdr_topic
    try:
        processed = sum(processed_offsets(settings, topic).values())
        behind = lag(settings, topic)
        t = settings.trino
        table = f"{settings.namespaces.analytics}.realtime_alerts"
        rows = clients.trino_query(
            settings,
            "SELECT alert_type, network_element_id, window_start, observed, threshold, raised_at "
            f"FROM {table} ORDER BY raised_at DESC LIMIT {int(alerts)}",
            user=t.analyst_user,
            password=t.analyst_password,
            catalog=t.readonly_catalog,
        )
    except Exception as exc:  # noqa: BLE001 - any client's failure is shown, the page goes on
        return LiveSnapshot(
            time.monotonic(), processes, starting, None, None, problem=clients.first_line(exc)
        )
    names = ("alert_type", "network_element_id", "window_start", "observed", "threshold", "raised_at")
    return LiveSnapshot(
        time.monotonic(),
        processes,
        starting,
        processed,
        behind,
        [dict(zip(names, r, strict=True)) for r in rows],
    )


def throughput(before: LiveSnapshot | None, now: LiveSnapshot) -> float | None:
    """Records/s the job committed between two snapshots."""
    if before is None or before.processed is None or now.processed is None or now.taken <= before.taken:
        return None
    return max(now.processed - before.processed, 0) / (now.taken - before.taken)
