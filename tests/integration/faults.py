"""Helpers of the fault matrix (test_faults.py): kill and restart a service, run a `lakehouse`
command in the background while watching its output, judge how it ended, and collect each
outcome into RELIABILITY.md.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.exceptions import LakehouseError
from core.settings import LakehouseSettings
from infra.launcher import Launcher
from tests.integration.conftest import LAKEHOUSE


def _documented_exit_codes() -> set[int]:
    """Exit codes of the project's expected failures (core/exceptions.py)."""
    found, todo = set(), [LakehouseError]
    while todo:
        cls = todo.pop()
        found.add(cls.exit_code)
        todo.extend(cls.__subclasses__())
    return found


DOCUMENTED_EXIT_CODES = _documented_exit_codes()


def kill_service(launcher: Launcher, name: str) -> None:
    """SIGKILL the service's whole process group (a crash: no shutdown hook, no checkpoint)."""
    process = launcher.service(name).process
    assert process.stop(timeout=0, first_signal=signal.SIGKILL), f"{name} was not running"


class Background:
    """`lakehouse <args>` running in the background; its output is read as it comes, so a test
    can wait for a line that says how far the command got."""

    def __init__(self, settings: LakehouseSettings, *args: str) -> None:
        self.args = args
        # Unbuffered: a progress line must reach us when it is printed, not at exit.
        env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [LAKEHOUSE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._seen = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._seen:
                lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for_line(self, text: str, timeout: float) -> None:
        """Block until a line of stdout contains ``text``; fail if the command ends or time runs out."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(text in line for line in self.stdout):
                left = deadline - time.monotonic()
                assert left > 0, f"no {text!r} from `lakehouse {' '.join(self.args)}` in {timeout}s"
                ended = not (self.running() or self._readers[0].is_alive())
                assert not ended, (
                    f"`lakehouse {' '.join(self.args)}` ended before {text!r}:\n"
                    + "".join(self.stderr)[-2000:]
                )
                self._seen.wait(min(left, 1.0))

    def finish(self, timeout: float) -> subprocess.CompletedProcess[str]:
        """Wait for the command to end; a command still running after ``timeout`` hangs (killed, fails)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"`lakehouse {' '.join(self.args)}` hung for {timeout}s") from None
        for reader in self._readers:
            reader.join(10)
        return subprocess.CompletedProcess(
            self.proc.args, self.proc.returncode, "".join(self.stdout), "".join(self.stderr)
        )

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait()


def verdict(result: subprocess.CompletedProcess[str]) -> str:
    """How a command met the fault: recovered, failed clearly, or a finding worth a bug."""
    if result.returncode == 0:
        return "recovered (exit 0)"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    if "Traceback" in result.stderr:
        return f"TRACEBACK (exit {result.returncode})"
    if result.returncode not in DOCUMENTED_EXIT_CODES or len(errors) != 1:
        return f"UNCLEAR (exit {result.returncode})"
    return f"failed clearly (exit {result.returncode})"


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command's one-line message (what RELIABILITY.md quotes), shortened."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    text = lines[0] if lines else (result.stderr.strip().splitlines() or [""])[-1]
    # Pids, ports and temp paths differ per run: keep the table stable between runs.
    text = re.sub(r"127\.0\.0\.1:\d+|/tmp/\S+", "…", text)
    return text[:160] + ("…" if len(text) > 160 else "")


def rerun_result(result: subprocess.CompletedProcess[str]) -> str:
    """The re-run's cell in the table."""
    return "ok (exit 0)" if result.returncode == 0 else f"FAILED (exit {result.returncode})"


def multiset_diff(produced: Counter[str], found: Counter[str]) -> tuple[int, int]:
    """(lost, duplicated): occurrences produced but not found, and found beyond those produced."""
    return sum((produced - found).values()), sum((found - produced).values())


@dataclass
class Outcome:
    """One cell of the matrix: what a fault during a phase did."""

    phase: str
    service: str
    outcome: str
    message: str = ""
    produced: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    clean: str = "-"
    rerun: str = "-"
    restart_s: float = 0.0
    recover_s: float = 0.0


@dataclass
class Skipped:
    phase: str
    service: str
    reason: str


HEADER = """\
# Reliability: the fault matrix

Generated by `tests/integration/test_faults.py` — do not edit by hand. Regenerate with
`make test-faults` (starts its own stack on free ports; writes this file when
every cell of the matrix ran).

Each row: a phase is started, the service is killed with SIGKILL once the phase is visibly under
way, and restarted at once through the launcher (`Launcher.restart`). Then the phase must have
either **recovered** by itself (exit 0) or **failed clearly** (one `error:` line, a documented
exit code, no traceback), a re-run must complete, and no row may be lost or duplicated.

Columns:

- **phase** — `batch`: `lakehouse generate` into Iceberg; `pipeline`: `lakehouse pipeline`;
  `stream`: the streaming job (`lakehouse stream run`) ingesting a topic.
- **killed** — the service SIGKILLed mid-phase.
- **outcome** — `recovered (exit 0)`, or `failed clearly (exit N)` (codes: `core/exceptions.py`);
  the streaming job restarting its own queries counts as recovered.
- **message** — the command's one-line error, when it failed.
- **produced** — batch: events generated (deliberate duplicates included); pipeline: valid rows
  in raw (raw rows - injected defects); stream: events sent to the topic.
- **found** — batch and stream: rows of those record ids in `raw.cdr`; pipeline: rows in `clean.*`.
- **lost / duplicated** — occurrences of record ids produced but not found / found more often
  than produced.
- **clean = raw valid** — after the pipeline, valid rows in clean equal valid rows in raw.
- **re-run** — the phase run again after the restart (batch: the same `generate`; pipeline:
  `lakehouse pipeline`; stream: more events, which must land once).
- **restart s** — seconds the launcher took to bring the service back to healthy.
- **recover s** — seconds from the kill until the data is whole again (re-run done, or the
  stream caught up).
"""


@dataclass
class ReliabilityReport:
    """Collects the outcomes of the module and writes them as a markdown table."""

    planned: int
    rows: list[Outcome] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, outcome: Outcome) -> Outcome:
        self.rows.append(outcome)
        return outcome

    def complete(self) -> bool:
        return len(self.rows) + len(self.skipped) >= self.planned

    def render(self, runtime_s: float) -> str:
        lines = [
            HEADER,
            f"Last run: {len(self.rows)} faults in {runtime_s / 60:.1f} min (suite, stack start included).\n",
            "| phase | killed | outcome | message | produced | found | lost | duplicated "
            "| clean = raw valid | re-run | restart s | recover s |",
            "|---|---|---|---|---:|---:|---:|---:|---|---|---:|---:|",
        ]
        for r in self.rows:
            message = r.message.replace("|", "\\|") or "-"
            cells = [r.phase, r.service, r.outcome, message, f"{r.produced:,}", f"{r.found:,}"]
            cells += [str(r.lost), str(r.duplicated), r.clean, r.rerun]
            cells += [f"{r.restart_s:.1f}", f"{r.recover_s:.1f}"]
            lines.append(f"| {' | '.join(cells)} |")
        for s in self.skipped:
            lines.append(f"| {s.phase} | {s.service} | not in the matrix: {s.reason} | | | | | | | | | |")
        return "\n".join(lines) + "\n"

    def write(self, path: Path, runtime_s: float) -> None:
        path.write_text(self.render(runtime_s), encoding="utf-8")
