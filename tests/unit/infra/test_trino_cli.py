"""`lakehouse sql`'s Trino CLI command: who it logs in as, where, and that no secret is on its argv."""

from __future__ import annotations

import http.server
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.exceptions import ConfigError, ServiceUnavailableError
from core.settings import LakehouseSettings
from infra.trino_cli import (
    OWNED_OPTIONS,
    PASSWORD_VARIABLE,
    CliCommand,
    build_command,
    check_reachable,
    history_file,
    needs_server,
    prepare_history,
)

JAVA, JAR = Path("/opt/java/bin/java"), Path("/cache/trino-cli-476-executable.jar")
ENGINEER_PASSWORD = "engineer-secret-0123456789"
ANALYST_PASSWORD = "analyst-secret-0123456789"
# What a user's shell may hold besides the terminal basics: every LAKEHOUSE_* secret, a Java
# agent, a query preprocessor and other tools' credentials.
CALLER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/ana",
    "TERM": "xterm-256color",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TRINO_PAGER": "less -S",
    "LAKEHOUSE_TRINO__PASSWORD": ENGINEER_PASSWORD,
    "LAKEHOUSE_TRINO__ANALYST_PASSWORD": ANALYST_PASSWORD,
    "LAKEHOUSE_POSTGRES__PASSWORD": "pg-secret-value",
    "LAKEHOUSE_S3__SECRET_KEY": "s3-secret-value",
    "JAVA_TOOL_OPTIONS": "-javaagent:/home/ana/agent.jar",
    "TRINO_PREPROCESSOR": "/home/ana/bin/rewrite-queries",
    "TRINO_CONFIG": "/home/ana/.trino_config",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
}


def _settings(tmp_path: Path, **trino: object) -> LakehouseSettings:
    return LakehouseSettings(
        _env_file=None,
        home=tmp_path / "state",
        trino={"port": 18443, "password": ENGINEER_PASSWORD, "analyst_password": ANALYST_PASSWORD, **trino},
    )


def _command(settings: LakehouseSettings, *args: str, **options: object) -> CliCommand:
    return build_command(settings, JAVA, JAR, args, environ=CALLER_ENV, **options)  # type: ignore[arg-type]


def _option(argv: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    assert len(values) <= 1, argv
    return values[0] if values else None


def test_the_analyst_on_the_read_only_catalog_over_verified_https(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    argv = _command(settings, "--execute", "SELECT 1").argv
    assert argv[0] == str(JAVA)
    assert argv[argv.index("-jar") + 1] == str(JAR)
    assert _option(argv, "--server") == "https://127.0.0.1:18443"
    assert _option(argv, "--user") == "analyst"
    assert _option(argv, "--catalog") == "iceberg_readonly"
    assert _option(argv, "--schema") == "analytics"
    assert _option(argv, "--truststore-path") == str(tmp_path / "state" / "tls" / "ca.pem")
    assert _option(argv, "--history-file") == str(tmp_path / "state" / "sql_history")
    assert "--password" in argv  # the flag: the value comes from the environment
    assert "--insecure" not in argv
    assert argv[-2:] == ["--execute", "SELECT 1"]  # passed through, after ours


def test_no_password_on_the_command_line_and_only_the_shells_own_in_its_environment(
    tmp_path: Path,
) -> None:
    command = _command(_settings(tmp_path), "--execute", "SELECT 1")
    secrets = [v for k, v in CALLER_ENV.items() if "SECRET" in k or "PASSWORD" in k]
    assert not [a for a in command.argv for secret in secrets if secret in a]
    assert command.env[PASSWORD_VARIABLE] == ANALYST_PASSWORD
    assert not [k for k in command.env if k.startswith("LAKEHOUSE_")]
    for dropped in ("JAVA_TOOL_OPTIONS", "TRINO_PREPROCESSOR", "AWS_SECRET_ACCESS_KEY"):
        assert dropped not in command.env
    assert ENGINEER_PASSWORD not in command.env.values()
    for kept in ("PATH", "HOME", "TERM", "LANG", "LC_ALL", "TRINO_PAGER"):
        assert command.env[kept] == CALLER_ENV[kept]
    # A personal ~/.trino_config (or the caller's TRINO_CONFIG) could set `insecure`: not read.
    assert command.env["TRINO_CONFIG"] == os.devnull
    assert ANALYST_PASSWORD not in repr(command)


def test_the_engineer_is_the_exception_on_the_writable_catalog(tmp_path: Path) -> None:
    command = _command(_settings(tmp_path), engineer=True)
    assert _option(command.argv, "--user") == "engineer"
    assert _option(command.argv, "--catalog") == "iceberg"
    assert command.env[PASSWORD_VARIABLE] == ENGINEER_PASSWORD
    assert ANALYST_PASSWORD not in command.env.values()


@pytest.mark.parametrize(
    "args",
    [("--schema", "raw"), ("--schema=raw",), ("--catalog=iceberg_readonly", "--schema", "raw")],
)
def test_arguments_may_choose_their_own_catalog_schema_and_history(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    argv = _command(_settings(tmp_path), *args).argv
    assert argv.count("--schema") + len([a for a in argv if a.startswith("--schema=")]) == 1
    assert not [a for a in argv if a.startswith("--catalog=")][1:]
    assert argv[-len(args) :] == list(args)


@pytest.mark.parametrize("option", OWNED_OPTIONS)
def test_arguments_that_would_change_the_login_or_verification_are_refused(
    tmp_path: Path, option: str
) -> None:
    for args in ((option, "x"), (f"{option}=x",)):
        with pytest.raises(ConfigError, match=f"does not take {option}") as error:
            _command(_settings(tmp_path), *args)
        assert error.value.exit_code == 2


@pytest.mark.parametrize(
    ("engineer", "variable"),
    [(False, "LAKEHOUSE_TRINO__ANALYST_PASSWORD"), (True, "LAKEHOUSE_TRINO__PASSWORD")],
)
def test_an_unset_password_stops_naming_its_variable(tmp_path: Path, engineer: bool, variable: str) -> None:
    settings = _settings(tmp_path, password="", analyst_password="")
    with pytest.raises(ConfigError, match=f"^{variable} is not set"):
        _command(settings, engineer=engineer)


def test_an_external_trino_is_verified_against_its_ca_file_or_the_system_trust_store(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "cluster-ca.pem"
    named = _command(_settings(tmp_path, managed=False, ca_file=ca)).argv
    assert _option(named, "--truststore-path") == str(ca)
    system = _command(_settings(tmp_path, managed=False)).argv
    assert _option(system, "--truststore-path") is None  # Java's own trust store
    assert "--insecure" not in system


def test_plain_http_sends_no_password(tmp_path: Path) -> None:
    command = _command(_settings(tmp_path, managed=False, scheme="http"))
    assert "--password" not in command.argv
    assert PASSWORD_VARIABLE not in command.env


def test_scripted_runs_get_a_dumb_terminal_without_jlines_warning(tmp_path: Path) -> None:
    dumb = "-Dorg.jline.terminal.dumb=true"
    assert dumb in _command(_settings(tmp_path), terminal=False).argv
    assert dumb not in _command(_settings(tmp_path), terminal=True).argv


def test_the_history_file_is_in_the_state_dir_and_private(tmp_path: Path) -> None:
    path = history_file(_settings(tmp_path))
    assert path == tmp_path / "state" / "sql_history"
    prepare_history(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("SELECT 1;\n")
    path.chmod(0o644)
    prepare_history(path)  # kept, made private again
    assert path.read_text() == "SELECT 1;\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_help_and_version_need_no_server() -> None:
    assert needs_server(["--execute", "SELECT 1"])
    assert not needs_server(["--help"]) and not needs_server(["--version"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_stack_never_started_here_is_one_line_naming_make_up(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailableError, match=r"ca\.pem does not exist yet.*make up"):
        check_reachable(_settings(tmp_path, port=_free_port()))
    with pytest.raises(ConfigError, match="LAKEHOUSE_TRINO__CA_FILE"):
        check_reachable(_settings(tmp_path, managed=False, ca_file=tmp_path / "absent.pem"))


def test_a_trino_that_is_not_running_is_one_line_naming_make_up(tmp_path: Path) -> None:
    settings = _settings(tmp_path, port=_free_port())
    (tmp_path / "state" / "tls").mkdir(parents=True)
    (tmp_path / "state" / "tls" / "ca.pem").write_text("")  # not read: nothing answers
    with pytest.raises(ServiceUnavailableError, match=r"not reachable \(\[Errno 111\] Connection refused\)"):
        check_reachable(settings)
    with pytest.raises(ServiceUnavailableError, match="make up") as error:
        check_reachable(settings)
    assert error.value.exit_code == 7


@pytest.fixture
def starting_trino() -> Iterator[int]:
    """A plain-HTTP server answering /v1/info as a Trino that is still starting."""

    class Info(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"starting": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Info)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()


def test_a_trino_still_starting_is_reported_as_such(tmp_path: Path, starting_trino: int) -> None:
    settings = _settings(tmp_path, managed=False, scheme="http", port=starting_trino)
    with pytest.raises(ServiceUnavailableError, match="still starting"):
        check_reachable(settings)
