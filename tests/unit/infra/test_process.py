"""ManagedProcess against real child processes."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from infra.process import ManagedProcess, free_port, port_is_free


@pytest.fixture
def proc(tmp_path: Path) -> ManagedProcess:
    managed = ManagedProcess("sleeper", tmp_path / "run" / "sleeper.pid", tmp_path / "logs" / "sleeper.log")
    yield managed
    managed.stop(timeout=2)


def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_start_records_pid_logs_output_and_stop_ends_it(proc: ManagedProcess) -> None:
    pid = proc.start([sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"])
    assert proc.pid() == pid
    _wait_for(lambda: "hello" in proc.tail())
    assert proc.rss_bytes() and proc.rss_bytes() > 1_000_000
    assert proc.stop(timeout=5) is True
    assert proc.pid() is None
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    assert proc.stop() is False


def test_stop_escalates_to_sigkill_when_term_is_ignored(proc: ManagedProcess) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ready', flush=True); time.sleep(60)"
    )
    proc.start([sys.executable, "-c", code])
    _wait_for(lambda: "ready" in proc.tail())
    began = time.monotonic()
    assert proc.stop(timeout=0.5) is True
    assert time.monotonic() - began < 5
    assert proc.pid() is None


def test_a_recycled_pid_is_not_taken_for_ours(proc: ManagedProcess) -> None:
    proc.pid_file.parent.mkdir(parents=True)
    # Our own pid, but with a start time that is not ours: must read as "not running".
    import os

    proc.pid_file.write_text(f"{os.getpid()} 1\n")
    assert proc.pid() is None
    assert not proc.pid_file.exists()


def test_a_stepped_wall_clock_does_not_orphan_a_running_process(
    proc: ManagedProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI lost a whole stack this way: the clock was stepped by NTP, psutil's epoch create time
    # moved with it and every pid file read as "not running" while the servers held their ports.
    import psutil._pslinux

    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)"])
    real_boot_time = psutil._pslinux.boot_time
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: real_boot_time() + 3600.0)
    assert proc.pid() == pid
    assert proc.pid_file.exists()


def test_a_pid_file_of_the_earlier_epoch_format_is_still_recognised(proc: ManagedProcess) -> None:
    import psutil

    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.pid_file.write_text(f"{pid} {psutil.Process(pid).create_time():.3f}\n")
    assert proc.pid() == pid
    proc.pid_file.write_text(f"{pid} {psutil.Process(pid).create_time() - 30:.3f}\n")
    assert proc.pid() is None
    os.kill(pid, signal.SIGKILL)


def test_port_is_free_reports_a_listening_port_as_taken() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_is_free("127.0.0.1", port)
