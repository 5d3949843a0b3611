"""The streaming job and the live producer as background processes of the stack.

``make stream`` starts both detached, with pid files and logs beside the stack's
(``.lakehouse/run``, ``.lakehouse/logs``); ``make status`` lists them; ``make stream-stop`` stops
the producer first, then the job (SIGTERM: Spark stops its queries between micro-batches).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from core.exceptions import ServiceStartError
from core.settings import LakehouseSettings
from infra.process import ManagedProcess
from ingestion.streaming.progress import processed_offsets, ready_file, state_file
from ingestion.streaming.supervision import JobState

JOB, PRODUCER = "stream-job", "stream-producer"
# A fresh JVM's first micro-batch is the slow one (class loading, JIT).
FIRST_BATCH_TIMEOUT = 180


def lakehouse_argv(*args: str) -> list[str]:
    """argv of a `lakehouse` command of this environment."""
    return [str(Path(sys.executable).with_name("lakehouse")), *args]


def start_job(
    process: ManagedProcess, settings: LakehouseSettings, topic: str | None = None, timeout: float = 300
) -> None:
    """Start `lakehouse stream run` as ``process`` and wait until its queries run."""
    marker = ready_file(settings, topic)
    marker.unlink(missing_ok=True)
    state_file(settings, topic).unlink(missing_ok=True)  # a previous run's verdict
    argv = lakehouse_argv("stream", "run", *(["--topic", topic] if topic else []))
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
    state: str  # running | failing (...) | failed (...) | stopped


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
        if not self.job.is_running():
            start_job(self.job, self.settings, timeout=timeout)
        if not self.producer.is_running():
            argv = lakehouse_argv("stream", "produce", "--rate", str(rate), "--pace", pace)
            self.producer.start(argv, env=self.settings.to_env())

    def wait_for_first_commit(self, timeout: float = FIRST_BATCH_TIMEOUT) -> bool:
        """Wait until the job commits a micro-batch past where it stood; False on timeout.

        So that, when `make stream` returns, events are visible.
        """
        topic = self.settings.kafka.cdr_topic
        before = sum(processed_offsets(self.settings, topic).values())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(processed_offsets(self.settings, topic).values()) > before:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> list[str]:
        """Stop the producer, then the job. Returns the names that were running."""
        return [p.name for p in (self.producer, self.job) if p.stop(timeout=60)]

    def status(self) -> list[StreamProcess]:
        """Each process with its pid (None when stopped), memory, log and state: the job's
        state is its own report (running, failing while it restarts a query, failed)."""
        rows = []
        for process in (self.job, self.producer):
            pid = process.pid()
            state = "running" if pid else "stopped"
            if process is self.job:
                reported = JobState.read(state_file(self.settings))
                if reported is not None and (pid or reported.state == "failed"):
                    state = reported.describe()
            rows.append(StreamProcess(process.name, pid, process.rss_bytes(), process.log_file, state))
        return rows
