"""Replaying an alerts micro-batch after a crash writes neither alerts nor windows twice.

The alerts query commits twice per micro-batch, alerts then windows, each commit recording the
micro-batch in its own table's ledger; Spark replays the micro-batch after a crash at any point.
This drives :func:`still_to_write` through every crash point in that order.
"""

from __future__ import annotations

import contextlib
import itertools

import pytest

from ingestion.streaming.alerts import still_to_write
from ingestion.streaming.ledger import NOTHING_COMMITTED

TABLES = ("alerts", "windows")  # in the order AlertWriter commits them


class CrashError(Exception):
    """SIGKILL between two commits."""


def _run(ledgers: dict[str, list[int]], batch_id: int, raises_alerts: bool, crash_at: int | None) -> None:
    """One attempt at micro-batch ``batch_id``: the commits due, in order, each recording the batch
    in its table's ledger; a crash before the ``crash_at``-th of them (0 = before any) stops it."""
    done = {table: max(ledgers[table], default=NOTHING_COMMITTED) for table in TABLES}
    alerts_due, windows_due = still_to_write(batch_id, done["alerts"], done["windows"])
    commits = [t for t, due in (("alerts", alerts_due and raises_alerts), ("windows", windows_due)) if due]
    for n, table in enumerate(commits):
        if n == crash_at:
            raise CrashError
        ledgers[table].append(batch_id)


# Every sequence of up to three crashed attempts (crash before the first, second or third commit
# due; None = the attempt completed its commits but Spark crashed before its own), then a replay.
ATTEMPTS = [crashes for n in range(1, 4) for crashes in itertools.product([0, 1, 2, None], repeat=n)]


@pytest.mark.parametrize("raises_alerts", [True, False], ids=["alerts", "no-alerts"])
@pytest.mark.parametrize("crashes", ATTEMPTS, ids=str)
def test_a_replay_writes_each_table_once_whatever_point_the_crash_hit(
    raises_alerts: bool, crashes: tuple[int | None, ...]
) -> None:
    ledgers: dict[str, list[int]] = {"alerts": [0], "windows": [0]}  # batch 0 went through
    for crash_at in crashes:
        with contextlib.suppress(CrashError):
            _run(ledgers, 1, raises_alerts, crash_at)
    _run(ledgers, 1, raises_alerts, crash_at=None)  # the replay that completes
    assert ledgers["windows"] == [0, 1]
    assert ledgers["alerts"] == ([0, 1] if raises_alerts else [0])


def test_the_old_single_ledger_would_duplicate_the_alerts() -> None:
    # What this guards against: judging the replay by the windows ledger alone (as before) sees
    # batch 1 as not done after a crash between the commits, and appends its alerts again.
    alerts_due, _ = still_to_write(1, NOTHING_COMMITTED, 0)
    assert alerts_due
    assert still_to_write(1, 1, 0) == (False, True)


@pytest.mark.parametrize(
    ("batch_id", "alerts_done", "windows_done", "expected"),
    [
        (0, NOTHING_COMMITTED, NOTHING_COMMITTED, (True, True)),  # a new query
        (5, 4, 4, (True, True)),  # the next batch
        (5, 5, 4, (False, True)),  # crashed between the alerts and the windows commit
        (5, 5, 5, (False, False)),  # crashed after both, before Spark's own commit
        (5, 2, 4, (True, True)),  # the batches since 2 raised no alert: the ledger is behind
        (5, 2, 5, (False, False)),  # ...and the windows are in: so are the alerts (none)
        (3, 5, 5, (False, False)),  # an older batch (never replayed by Spark) is never rewritten
    ],
)
def test_still_to_write(batch_id: int, alerts_done: int, windows_done: int, expected: tuple) -> None:
    assert still_to_write(batch_id, alerts_done, windows_done) == expected
