"""Fail points hold a process only while armed, and say where it is held."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core import failpoints


def test_no_directory_or_unarmed_point_never_holds(tmp_path: Path) -> None:
    failpoints.reach(None, "p")
    failpoints.reach(tmp_path, "p")
    assert not (tmp_path / "p.reached").exists()


def test_an_armed_point_holds_until_disarmed_and_names_the_process(tmp_path: Path) -> None:
    reached = failpoints.arm(tmp_path / "holds", "p")
    passed = threading.Event()

    def run() -> None:
        failpoints.reach(tmp_path / "holds", "p")
        passed.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    for _ in range(100):
        if reached.exists():
            break
        passed.wait(0.05)
    assert reached.read_text() == str(os.getpid())
    assert not passed.wait(3 * failpoints.POLL_SECONDS)  # still held
    failpoints.disarm(tmp_path / "holds", "p")
    worker.join(5)
    assert passed.is_set()


def test_arming_again_forgets_the_last_hold(tmp_path: Path) -> None:
    reached = failpoints.arm(tmp_path, "p")
    reached.write_text("1")
    assert not failpoints.arm(tmp_path, "p").exists()
