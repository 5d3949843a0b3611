"""`lakehouse sql` on the test stack: the real Trino CLI, logged in as the analyst.

The engineer publishes a mart as the pipeline does (a candidate table, a view of it in the
analytics namespace) beside a raw table; the shell then reads the one and is refused the other,
and a session on a terminal shows where the password is (its environment) and is not (any
command line).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import stat
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core import clients
from core.settings import LakehouseSettings
from infra.artifacts import ArtifactCache
from infra.services.base import java_binary
from infra.trino_cli import PASSWORD_VARIABLE, build_command, history_file
from tests.integration.conftest import LAKEHOUSE, run_cli, unique
from tests.integration.test_pipeline import every_secret


@pytest.fixture(scope="module")
def tables(settings: LakehouseSettings) -> dict[str, str]:
    """A published mart (view over a candidate table) and a raw table, named for this run."""
    ns = settings.namespaces
    name = unique("it_sql")
    for schema in (ns.raw, ns.analytics_candidate, ns.analytics):
        clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {schema}")
    clients.trino_query(settings, f"CREATE TABLE {ns.raw}.{name} AS SELECT '213550000001' AS msisdn")
    clients.trino_query(
        settings,
        f"CREATE TABLE {ns.analytics_candidate}.{name} AS "
        "SELECT * FROM (VALUES ('Alger', 42), ('Oran', 17)) AS t (region, calls)",
    )
    clients.trino_query(
        settings,
        f"CREATE OR REPLACE VIEW {ns.analytics}.{name} AS SELECT * FROM {ns.analytics_candidate}.{name}",
    )
    return {"mart": name, "raw": f"{ns.raw}.{name}"}


def sql(settings: LakehouseSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(settings, "sql", *args, check=False, timeout=300)


def test_the_analyst_reads_a_published_mart_in_the_read_only_catalog(
    settings: LakehouseSettings, tables: dict[str, str]
) -> None:
    began = time.monotonic()
    result = sql(
        settings,
        "--execute",
        f"SELECT current_user, current_catalog, current_schema, (SELECT sum(calls) FROM {tables['mart']})",
    )
    seconds = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert result.stdout == '"analyst","iceberg_readonly","analytics","59"\n'
    assert result.stderr == ""  # no jline "dumb terminal" warning, no progress bar
    print(f"lakehouse sql --execute: {seconds:.1f} s")


def test_raw_data_is_denied_with_a_non_zero_exit(settings: LakehouseSettings, tables: dict[str, str]) -> None:
    raw = sql(settings, "--execute", f"SELECT msisdn FROM {tables['raw']}")
    assert raw.returncode == 1, (raw.stdout, raw.stderr)
    assert "Access Denied: Cannot select from table" in raw.stderr
    assert "213550000001" not in raw.stdout + raw.stderr
    writable = sql(settings, "--execute", f"SELECT msisdn FROM {settings.trino.catalog}.{tables['raw']}")
    assert writable.returncode == 1 and "Access Denied: Cannot access catalog" in writable.stderr


def test_the_engineer_is_the_documented_exception(
    settings: LakehouseSettings, tables: dict[str, str]
) -> None:
    result = sql(settings, "--engineer", "--execute", f"SELECT current_user, msisdn FROM {tables['raw']}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'"{settings.trino.user}","213550000001"\n'


class Terminal:
    """`lakehouse sql` on a pseudo-terminal, as a person runs it."""

    def __init__(self, settings: LakehouseSettings) -> None:
        # `cat` as the pager: the results come back as they are, without `less` in between.
        env = {**os.environ, **settings.to_env(), "TERM": "xterm-256color", "TRINO_PAGER": "cat"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes `lakehouse sql`, which becomes java
            try:
                os.execve(LAKEHOUSE, [LAKEHOUSE, "sql"], env)  # noqa: S606 - argv, no shell
            finally:
                os._exit(127)  # never back into pytest in a forked copy
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.output = b""
        self.exit_code: int | None = None

    def read_until(self, marker: bytes, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.output[-1500:]!r}"
            if select.select([self.fd], [], [], min(left, 1.0))[0]:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the session ended
                    assert marker in self.output, f"ended without {marker!r}: {self.output[-1500:]!r}"

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                return self.exit_code
            if select.select([self.fd], [], [], 0.5)[0]:
                with contextlib.suppress(OSError):  # EIO once the session has ended
                    self.output += os.read(self.fd, 65536)
        raise AssertionError(f"the shell did not exit: {self.output[-1500:]!r}")

    def close(self) -> None:
        """End the session if it is still running (only then: a reaped pid may be reused)."""
        if self.exit_code is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal(settings: LakehouseSettings) -> Iterator[Terminal]:
    shell = Terminal(settings)
    try:
        yield shell
    finally:
        shell.close()


def test_an_interactive_session_keeps_secrets_off_every_command_line(
    settings: LakehouseSettings, tables: dict[str, str], terminal: Terminal
) -> None:
    history = history_file(settings)
    marker = unique("history_marker")
    personal = Path.home() / ".trino_history"
    terminal.read_until(f"trino:{settings.namespaces.analytics}>".encode())
    # The prompt is up: `lakehouse sql` has become the CLI's java process (same pid).
    process = psutil.Process(terminal.pid)
    argv = process.cmdline()
    assert argv[0] == str(java_binary(settings)) and argv[argv.index("-jar") + 1].endswith(
        "trino-cli-476-executable.jar"
    ), argv
    secrets = every_secret(settings)
    assert len(secrets) >= 13 and settings.trino.analyst_password.get_secret_value() in secrets
    everyone = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    assert " ".join(argv) in everyone
    assert not [line[:80] for line in everyone for secret in secrets if secret in line]
    # Its environment: the analyst's password for the CLI, and no other secret nor any setting.
    env = process.environ()
    assert env[PASSWORD_VARIABLE] == settings.trino.analyst_password.get_secret_value()
    assert not [name for name in env if name.startswith("LAKEHOUSE_")]
    others = [s for s in secrets if s != env[PASSWORD_VARIABLE]]
    assert not [name for name, value in env.items() for secret in others if secret in value]

    terminal.type(f"SELECT '{marker}' AS marker, sum(calls) AS calls FROM {tables['mart']};")
    terminal.read_until(b"(1 row)")
    assert b"59" in terminal.output.split(b"(1 row)")[0].rsplit(marker.encode(), 1)[-1]
    terminal.type("quit;")
    assert terminal.wait() == 0
    # The history is in the state dir, owner-only, and not in the user's ~/.trino_history.
    assert marker in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert not personal.exists() or marker not in personal.read_text(errors="replace")


def _cli(settings: LakehouseSettings, *java_options: str) -> tuple[list[str], dict[str, str]]:
    jar = ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository).ensure_trino_cli()
    command = build_command(settings, java_binary(settings), jar, ["--execute", "SELECT 1"], terminal=False)
    argv = [command.argv[0], *java_options, *command.argv[1:]]
    return argv, command.env


def test_the_cli_trusts_the_ca_it_is_given_and_nothing_else(settings: LakehouseSettings) -> None:
    """--truststore-path with a PEM file is what the CLI verifies against: given the system's CA
    bundle instead of ours, it refuses Trino's certificate."""
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    if not system.is_file():
        pytest.skip(f"{system}: no system CA bundle here")
    elsewhere = settings.model_copy(
        update={"trino": settings.trino.model_copy(update={"managed": False, "ca_file": system})}
    )
    argv, env = _cli(elsewhere)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "PKIX path building failed" in result.stderr


def test_a_personal_trino_config_is_not_read(settings: LakehouseSettings, tmp_path: Path) -> None:
    """~/.trino_config sets defaults of any option (`insecure`, `output-format`, ...); the shell's
    CLI reads none. Without TRINO_CONFIG=/dev/null the same file does change its output."""
    (tmp_path / ".trino_config").write_text("output-format=JSON\n")
    argv, env = _cli(settings, f"-Duser.home={tmp_path}")
    ours = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert (ours.returncode, ours.stdout) == (0, '"1"\n'), ours.stderr
    unguarded = {name: value for name, value in env.items() if name != "TRINO_CONFIG"}
    read = subprocess.run(argv, env=unguarded, capture_output=True, text=True, timeout=120)
    assert (read.returncode, read.stdout) == (0, '{"_col0":1}\n'), read.stderr
