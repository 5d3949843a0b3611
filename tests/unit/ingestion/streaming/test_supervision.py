"""Restarting a failing query: growing pauses, a cap, progress starts over; the state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.exceptions import StreamJobFailedError
from ingestion.streaming.supervision import JobState, QueryHealth, RestartPolicy

POLICY = RestartPolicy(first_pause=5.0, max_pause=60.0, max_failures=6)


def test_pauses_double_up_to_the_ceiling_then_the_job_gives_up() -> None:
    health = QueryHealth()
    pauses = [health.failed(f"boom {i}", POLICY) for i in range(POLICY.max_failures)]
    assert pauses == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    with pytest.raises(StreamJobFailedError, match="7 times in a row") as raised:
        health.failed("boom last", POLICY)
    assert "boom last" in str(raised.value)
    assert StreamJobFailedError.exit_code not in {1, 2}


def test_a_completed_micro_batch_starts_the_count_over() -> None:
    health = QueryHealth()
    for _ in range(POLICY.max_failures):
        health.failed("flaky broker", POLICY)
    health.progressed(41)
    assert health.failures == 0
    assert health.failed("again", POLICY) == POLICY.first_pause
    # The same batch again (a replay that failed) is not progress.
    health.progressed(41)
    assert health.failures == 1
    health.progressed(None)
    assert health.failures == 1
    assert health.restarts == POLICY.max_failures + 1


def test_the_state_file_round_trips_and_says_failing_with_the_error(tmp_path: Path) -> None:
    path = tmp_path / "run" / "job.state.json"
    cdr, alerts = QueryHealth(), QueryHealth()
    JobState.of({"cdr": cdr, "alerts": alerts}).write(path)
    assert JobState.read(path).describe() == "running"
    cdr.failed("CAST_INVALID_INPUT: '99999' cannot be cast to SMALLINT\nstack...", POLICY)
    JobState.of({"cdr": cdr, "alerts": alerts}).write(path)
    state = JobState.read(path)
    assert state is not None and state.state == "failing"
    assert (
        state.describe()
        == "failing (1 restarts) - cdr: CAST_INVALID_INPUT: '99999' cannot be cast to SMALLINT"
    )
    JobState.of({"cdr": cdr}, failed=True).write(path)
    assert JobState.read(path).describe().startswith("failed (1 restarts) - cdr: CAST_INVALID_INPUT")


def test_a_missing_or_torn_state_file_reads_as_unknown(tmp_path: Path) -> None:
    assert JobState.read(tmp_path / "absent.json") is None
    torn = tmp_path / "torn.json"
    torn.write_text('{"state": "runn')
    assert JobState.read(torn) is None
