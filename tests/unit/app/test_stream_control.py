"""`make status` shows the job's own word on its health, not only whether its pid lives."""

from __future__ import annotations

import sys
from pathlib import Path

from app.stream_control import StreamProcesses
from core.settings import LakehouseSettings, load_settings
from ingestion.streaming.progress import state_file
from ingestion.streaming.supervision import JobState, QueryHealth, RestartPolicy


def _settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(env_file=None, home=tmp_path)


def _job_state(settings: LakehouseSettings, failures: int, failed: bool = False) -> None:
    health = QueryHealth()
    for _ in range(failures):
        health.failed("Kafka broker went away", RestartPolicy())
    JobState.of({"cdr": health}, failed=failed).write(state_file(settings))


def test_a_job_that_is_restarting_a_query_reads_failing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    processes = StreamProcesses(settings)
    processes.job.start([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _job_state(settings, failures=2)
        job = processes.status()[0]
        assert job.pid is not None
        assert job.state.startswith("failing (2 restarts)")
        assert "Kafka broker went away" in job.state
    finally:
        processes.job.stop(timeout=5)


def test_a_job_that_gave_up_reads_failed_after_its_process_ended(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _job_state(settings, failures=3, failed=True)
    job, producer = StreamProcesses(settings).status()
    assert job.pid is None and job.state.startswith("failed (3 restarts)")
    assert producer.state == "stopped"


def test_a_stopped_job_with_a_stale_running_state_reads_stopped(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _job_state(settings, failures=0)
    assert StreamProcesses(settings).status()[0].state == "stopped"
