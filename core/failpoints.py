"""Fail points: named places in a write path where a crash test holds the process to kill it there.

A crash test has to kill a job at one exact point, say after one commit and before the next.
Watching from outside lands there only by luck (the next commit follows within milliseconds), and
a test that proves something only when lucky proves nothing on the runs it is unlucky. So the
code names the point, and a test arms it:

- arming is a file named after the point in the directory the settings name (``None`` outside
  tests, where reaching a point costs one comparison);
- a process reaching an armed point writes ``<point>.reached`` (its pid) beside it and waits
  while the arming file exists: the test sees it there, kills it or removes the file to let it go.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POLL_SECONDS = 0.2


def arm(directory: Path, point: str) -> Path:
    """Arm ``point`` in ``directory``; the file whose appearance says a process reached it."""
    directory.mkdir(parents=True, exist_ok=True)
    reached = directory / f"{point}.reached"
    reached.unlink(missing_ok=True)
    (directory / point).touch()
    return reached


def disarm(directory: Path, point: str) -> None:
    """Let a process held at ``point`` go on, and the next ones pass."""
    (directory / point).unlink(missing_ok=True)


def reach(directory: Path | None, point: str) -> None:
    """Hold here while ``point`` is armed in ``directory``; return at once when it is not."""
    if directory is None:
        return
    armed = directory / point
    if not armed.exists():
        return
    # Written aside and renamed: a test that sees the file must read a whole pid, never an empty one.
    pending = directory / f"{point}.reached.{os.getpid()}"
    pending.write_text(str(os.getpid()), encoding="utf-8")
    pending.replace(directory / f"{point}.reached")
    while armed.exists():
        time.sleep(POLL_SECONDS)
