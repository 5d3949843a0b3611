"""The Trino command-line client behind `lakehouse sql`: its command line, environment and checks.

The CLI (the pinned ``trino-cli-<version>-executable.jar``, run with the project's Java as
``java -jar``) logs in as one of the lakehouse's identities: the analyst by default, on the
read-only catalog; the engineer on the writable one only when asked for.

The password is never on a command line: given ``--password``, Trino CLI 476 takes it from the
``TRINO_PASSWORD`` environment variable and prompts only when that is unset
(``io.trino.cli.ClientOptions``). The CLI gets an environment of its own, built from a short
allowlist: no ``LAKEHOUSE_*`` setting, no ``JAVA_TOOL_OPTIONS`` (an agent or a trust store), no
``TRINO_PREPROCESSOR`` (a program every query would be piped through).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from pydantic import SecretStr

from core.exceptions import ConfigError, ServiceUnavailableError
from core.settings import LakehouseSettings

PASSWORD_VARIABLE = "TRINO_PASSWORD"  # noqa: S105 - the variable's name, not a secret
HISTORY_FILE_NAME = "sql_history"

# The heap of the executable jar's own launcher line (`exec java -Xmx1G ... -jar "$0"`); Java 25
# warns about jline's native terminal access without the second. The client JIT alone (C1) cuts
# a `--execute 'SELECT 1'` from about 3.4 to 2.1 s of CPU (measured on 2 vCPU): the CLI waits on
# the server, it seldom runs long enough for the optimising compiler to pay off.
JAVA_OPTIONS = ("-Xmx1G", "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1")

# Inherited from the caller: what a terminal program needs (the pager `less` is found on PATH,
# jline reads TERM and the size, Java its locale), and the user's pager choice. Nothing else.
_INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM", "COLORTERM", "COLUMNS")
_INHERITED += ("LINES", "TZ", "TMPDIR", "TRINO_PAGER")
_INHERITED_PREFIXES = ("LC_",)

# Options `lakehouse sql` sets itself: where to connect, as whom, and how the certificate is
# verified. Given again in the arguments they would be refused by the CLI as repeated, or
# (--insecure) turn verification off, which no client of the lakehouse does.
OWNED_OPTIONS = (
    "--server",
    "--user",
    "--password",
    "--insecure",
    "--truststore-path",
    "--truststore-password",
    "--truststore-type",
    "--use-system-truststore",
    "--access-token",
    "--external-authentication",
)
# Arguments that only print something: no connection, so no reachability check.
_OFFLINE = frozenset({"-h", "--help", "--version"})


@dataclass(frozen=True)
class Identity:
    """Who the shell logs in as, with the setting that holds the password."""

    user: str
    password: SecretStr
    catalog: str
    password_setting: str


def shell_identity(settings: LakehouseSettings, engineer: bool = False) -> Identity:
    """The analyst on the read-only catalog; the engineer (writes everything) on the writable
    catalog only when asked for. Raises ConfigError (exit 2) when its password is unset."""
    t = settings.trino
    if engineer:
        identity = Identity(t.user, t.password, t.catalog, "LAKEHOUSE_TRINO__PASSWORD")
    else:
        identity = Identity(
            t.analyst_user, t.analyst_password, t.readonly_catalog, "LAKEHOUSE_TRINO__ANALYST_PASSWORD"
        )
    # Over plain HTTP (an external Trino only) no password is sent, so none is needed.
    if t.scheme == "https" and not identity.password.get_secret_value():
        raise ConfigError(
            f"{identity.password_setting} is not set: the SQL shell logs in as {identity.user!r} "
            "with it (`make up` generates it into .env)"
        )
    return identity


@dataclass(frozen=True)
class CliCommand:
    """What to run: the java command line (no secret in it) and the environment (the password);
    the environment is left out of the repr, so a log line or a failed assertion does not show it."""

    argv: list[str]
    env: dict[str, str] = field(repr=False)


def history_file(settings: LakehouseSettings) -> Path:
    """The shell's history, in the state dir: queries can quote personal data (a number in a
    WHERE clause), so not in ~/.trino_history beside other tools' history."""
    return settings.home / HISTORY_FILE_NAME


def _option_name(argument: str) -> str:
    return argument.split("=", 1)[0]


def check_arguments(args: Sequence[str]) -> None:
    """Refuse arguments that would override the connection or the login (exit 2)."""
    # `--user=x` and `--user x` alike: the name is what precedes any `=`.
    owned = sorted({_option_name(a) for a in args if _option_name(a) in OWNED_OPTIONS})
    if owned:
        raise ConfigError(
            f"lakehouse sql does not take {', '.join(owned)}: it connects to the lakehouse's Trino "
            "itself, as the analyst (--engineer: the engineer) with the password from the settings, "
            "and always verifies Trino's certificate (against the installation's CA)"
        )


def build_command(
    settings: LakehouseSettings,
    java: Path,
    jar: Path,
    args: Sequence[str] = (),
    *,
    engineer: bool = False,
    terminal: bool = True,
    environ: Mapping[str, str] | None = None,
) -> CliCommand:
    """The CLI's argv and environment, connected to the lakehouse as ``shell_identity``.

    ``args`` are passed through after ours (``--execute 'SELECT 1'``, ``--output-format TSV``);
    they may set their own catalog, schema or history file. ``terminal`` is whether our standard
    output is one. Raises ConfigError when the identity's password is unset or an argument
    would override the connection.
    """
    check_arguments(args)
    t = settings.trino
    identity = shell_identity(settings, engineer)
    https = t.scheme == "https"
    options = [f"--server={t.url}", f"--user={identity.user}"]
    if https:
        # Trino accepts passwords only over TLS; the CLI refuses to send one over plain HTTP.
        options.append("--password")
        verify = settings.trino_verify
        if isinstance(verify, str):
            # A PEM file works as a trust store: the CLI reads it as PEM certificates first.
            options.append(f"--truststore-path={verify}")
        # else: the system's trust store (Java's own cacerts), as for any client of ours.
    given = {_option_name(a) for a in args}
    defaults = {
        "--catalog": identity.catalog,
        "--schema": settings.namespaces.analytics,
        "--history-file": str(history_file(settings)),
    }
    options += [f"{name}={value}" for name, value in defaults.items() if name not in given]
    java_options = list(JAVA_OPTIONS)
    if not terminal:
        # jline would warn on stderr that it "creates a dumb terminal" in every scripted run.
        java_options.append("-Dorg.jline.terminal.dumb=true")
    argv = [str(java), *java_options, "-jar", str(jar), *options, *args]
    password = identity.password.get_secret_value() if https else None
    env = _environment(os.environ if environ is None else environ, password)
    return CliCommand(argv, env)


def _environment(environ: Mapping[str, str], password: str | None) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if k in _INHERITED or k.startswith(_INHERITED_PREFIXES)}
    # The CLI reads ~/.trino_config (or $TRINO_CONFIG, $XDG_CONFIG_HOME/trino/config) for default
    # options, one of which is `insecure`: point it at an empty file so that the connection is
    # the one built here, whatever a personal config says.
    env["TRINO_CONFIG"] = os.devnull
    if password is not None:
        env[PASSWORD_VARIABLE] = password
    return env


def needs_server(args: Sequence[str]) -> bool:
    """Whether the CLI will connect (not when it only prints its help or version)."""
    return not any(a in _OFFLINE for a in args)


def check_reachable(settings: LakehouseSettings, timeout: float = 5.0) -> None:
    """Raise ServiceUnavailableError (exit 7) with one line unless Trino answers over a verified
    connection and has finished starting: the CLI would otherwise open its prompt and fail at
    the first query, or print a Java exception."""
    import requests

    t = settings.trino
    start = "start it with `make up` (`make status` shows the stack)" if t.managed else "is it running?"
    verify = settings.trino_verify
    if isinstance(verify, str) and not Path(verify).is_file():
        if t.ca_file is not None:
            raise ConfigError(f"LAKEHOUSE_TRINO__CA_FILE: {verify} is not a file")
        # The launcher creates the CA at the first start of the stack in this state dir.
        raise ServiceUnavailableError(f"Trino's CA {verify} does not exist yet: {start}")
    session = requests.Session()
    session.verify = verify
    if isinstance(verify, str):
        session.trust_env = False  # our CA, not REQUESTS_CA_BUNDLE (see core.clients)
    try:
        # /v1/info needs no login: nothing secret is sent before the certificate is verified.
        response = session.get(f"{t.url}/v1/info", timeout=timeout)
        response.raise_for_status()
        starting = bool(response.json().get("starting"))
    except requests.exceptions.SSLError as exc:
        trusted = verify if isinstance(verify, str) else "the system's CAs"
        raise ServiceUnavailableError(
            f"TLS with Trino at {t.url} failed, verifying against {trusted}: {_reason(exc)}"
        ) from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise ServiceUnavailableError(
            f"Trino at {t.url} is not reachable ({_reason(exc)}); {start}"
        ) from None
    if starting:
        raise ServiceUnavailableError(f"Trino at {t.url} is still starting; try again in a few seconds")


def _reason(error: BaseException) -> str:
    """The useful part of a requests error ("[Errno 111] Connection refused", "[SSL:
    CERTIFICATE_VERIFY_FAILED] certificate verify failed: ..."), which urllib3 wraps in two
    layers of pool and connection reprs."""
    text = " ".join(str(error).split())
    cause = re.search(r"\[(?:Errno -?\d+|SSL: \w+)\] [^'\"()\]]+", text)
    return cause.group(0).strip() if cause else text[:300] or type(error).__name__


def prepare_history(path: Path) -> None:
    """Create the history file owner-only (0600) before the CLI first writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)


def exec_cli(command: CliCommand) -> NoReturn:
    """Replace this process with the CLI: its exit code is ours, and Ctrl-C reaches it alone
    (cancelling the running query) instead of a Python parent that would exit under it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command.argv[0], command.argv, command.env)  # noqa: S606 - argv, never a shell
