"""Native processes of the stack: spawn, track by pid file, stop, measure.

A pid file holds ``<pid> <start ticks>``: the kernel's start time of the process in clock ticks
since boot. It guards against a recycled pid being taken for one of ours, and unlike an epoch time
(psutil's create time is boot time + ticks, and boot time is re-derived from the wall clock) it
does not move when the clock is stepped, so a stack outlives an NTP jump or a resumed VM.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.exceptions import PrerequisiteError


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free right now (for tests and ad-hoc stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot, or None if there is no such live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], fields[19]
    return None if state in ("Z", "X") else int(start_ticks)


def _same_start(recorded: str, started: int) -> bool:
    """Whether a pid file's start time is this process's (so the pid was not recycled)."""
    if "." in recorded:
        # Pid files of earlier versions hold an epoch time: the clock may have moved since.
        epoch = psutil.boot_time() + started / os.sysconf("SC_CLK_TCK")
        return abs(float(recorded) - epoch) < 1.0
    return int(recorded) == started


def running_as_root() -> bool:
    return os.geteuid() == 0


def _as_user(user: str | None, env: Mapping[str, str] | None) -> tuple[dict[str, object], dict[str, str]]:
    """Popen arguments and environment to run a child as ``user`` (or as ourselves if None).

    Popen switches uid/gid in the child before exec: no runuser/su process in between, so the
    pid we record is the server's own.
    """
    full_env = dict(env if env is not None else os.environ)
    if user is None:
        return {}, full_env
    entry = pwd.getpwnam(user)
    full_env["HOME"] = entry.pw_dir
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}, full_env


@dataclass
class ManagedProcess:
    """A long-running server process owned by the launcher."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid of our live process, or None (stale pid files are removed)."""
        try:
            pid_text, recorded = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        started = _start_time(pid)
        if started is None or not _same_start(recorded, started):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        """Start ``argv`` detached in its own session, logging to ``log_file``."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        kwargs, full_env = _as_user(user, env)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=full_env,
                start_new_session=True,
                **kwargs,  # type: ignore[arg-type]
            )
        start = _start_time(proc.pid) or 0  # a fork is visible immediately on Linux
        self.pid_file.write_text(f"{proc.pid} {start}\n")
        return proc.pid

    def stop(self, timeout: float = 30.0, first_signal: int = signal.SIGTERM) -> bool:
        """Signal the process group, escalate to SIGKILL after ``timeout``. True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, first_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _start_time(pid) is None:
                break
            time.sleep(0.1)
        else:
            _signal_group(pid, signal.SIGKILL)
            while _start_time(pid) is not None:
                time.sleep(0.05)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def rss_bytes(self) -> int | None:
        """Resident memory of the process and its descendants (a driver's JVM counts)."""
        pid = self.pid()
        if pid is None:
            return None
        total = 0
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        for process in family:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total or None

    def tail(self, lines: int = 30) -> str:
        try:
            with self.log_file.open(errors="replace") as handle:
                return "".join(deque(handle, maxlen=lines))
        except OSError:
            return ""


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    # A child of this very process would linger as a zombie until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def run_checked(
    argv: Sequence[str],
    *,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short helper command (initdb, psql, storage format), as ``user`` if given."""
    kwargs, full_env = _as_user(user, env)
    return subprocess.run(
        list(argv),
        input=input_text,
        capture_output=True,
        text=True,
        env=full_env,
        cwd="/",
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def apt_install(*packages: str) -> bool:
    """Install Debian packages when we may (root with apt-get); False when we may not.

    The caller then checks for what it needed and names the package in its own error.
    """
    if not running_as_root() or shutil.which("apt-get") is None:
        return False
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = run_checked(argv, env=env)
        if result.returncode != 0:
            raise PrerequisiteError(f"`{' '.join(argv)}` failed:\n{result.stderr[-1500:]}")
    return True
