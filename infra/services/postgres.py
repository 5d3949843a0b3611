"""PostgreSQL: the database behind the Iceberg JDBC catalog.

The cluster's superuser is reachable only over the Unix socket by the OS user that runs the
server (peer auth). The engines connect over TCP as a separate, non-superuser role that owns
just the catalog database.
"""

from __future__ import annotations

import getpass
import shutil
import signal
from pathlib import Path

from pydantic import SecretStr

from core import clients
from core.exceptions import PrerequisiteError, ServiceStartError
from core.settings import PostgresSettings
from infra.process import apt_install, run_checked, running_as_root
from infra.services.base import Health, Port, Service

# Run the server as this OS user when the launcher runs as root: postgres refuses root.
ROOT_RUN_USER = "postgres"

# A login role that is no superuser, with the password it is given (created once, then updated).
_ROLE_SQL = """\
\\set ON_ERROR_STOP on
\\set role_name '{role}'
\\set role_password '{password}'
SELECT format('CREATE ROLE %I LOGIN', :'role_name')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role_name') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'role_name', :'role_password') \\gexec
"""

# ... and a database it owns.
_PROVISION_SQL = (
    _ROLE_SQL
    + """\
\\set db_name '{database}'
SELECT format('CREATE DATABASE %I OWNER %I', :'db_name', :'role_name')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \\gexec
-- PostgreSQL lets every role connect to a new database: only its owner may (one role per component).
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db_name') \\gexec
"""
)

# A monitoring login: pg_monitor's statistics views, no database of its own, no data.
_MONITOR_SQL = _ROLE_SQL + "SELECT format('GRANT pg_monitor TO %I', :'role_name') \\gexec\n"


def _psql_literal(value: str) -> str:
    """Quote for a psql meta-command argument: double quotes and backslashes."""
    return value.replace("\\", "\\\\").replace("'", "''")


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server bin dir (Debian layout first, then PATH)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[4]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    return Path(found).resolve().parent if found else None


class PostgresService(Service):
    name = "postgres"

    @property
    def endpoint(self) -> PostgresSettings:
        return self.settings.postgres

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_POSTGRES__PORT")]

    def url(self) -> str:
        return f"postgresql://{self.endpoint.host}:{self.endpoint.port}/{self.endpoint.database}"

    @property
    def run_user(self) -> str | None:
        return ROOT_RUN_USER if running_as_root() else None

    @property
    def superuser(self) -> str:
        return self.run_user or getpass.getuser()

    @property
    def socket_dir(self) -> Path:
        return self.settings.run_dir / "postgres-socket"

    def bin_dir(self) -> Path:
        found = find_bin_dir()
        if found is None:
            raise PrerequisiteError(
                "PostgreSQL server binaries (initdb, postgres) not found: "
                "install them with `sudo apt-get install postgresql` (Debian/Ubuntu), or point "
                "LAKEHOUSE_POSTGRES__* at an existing server with LAKEHOUSE_POSTGRES__MANAGED=false"
            )
        return found

    def install(self) -> None:
        if find_bin_dir() is None:
            # The Debian package also creates the `postgres` OS user we run the server as.
            apt_install("postgresql")
        self.bin_dir()

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.run_user is not None:
            shutil.chown(path, self.run_user, self.run_user)

    def _check_reachable(self) -> None:
        """As root the server runs as `postgres`, which must be able to walk to its data dir."""
        if self.run_user is None:
            return
        probe = run_checked(["test", "-w", str(self.data_dir.parent)], user=self.run_user)
        if probe.returncode != 0:
            raise PrerequisiteError(
                f"the `{self.run_user}` OS user cannot reach {self.data_dir.parent}: make its parent "
                "directories traversable (chmod o+x) or set LAKEHOUSE_HOME to a directory it can reach"
            )

    def start(self) -> None:
        bin_dir = self.bin_dir()
        self._own(self.data_dir.parent)
        self._own(self.socket_dir)
        self._check_reachable()
        if not (self.data_dir / "PG_VERSION").exists():
            self._own(self.data_dir)
            result = run_checked(
                [
                    str(bin_dir / "initdb"),
                    "--pgdata", str(self.data_dir),
                    "--username", self.superuser,
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                user=self.run_user,
            )  # fmt: skip
            if result.returncode != 0:
                raise ServiceStartError(self.name, f"initdb failed: {result.stderr.strip()}")
        self.process.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                str(bin_dir / "postgres"),
                "-D", str(self.data_dir),
                "-c", f"listen_addresses={self.endpoint.host}",
                "-c", f"port={self.endpoint.port}",
                "-c", f"unix_socket_directories={self.socket_dir}",
                "-c", "shared_buffers=128MB",
                "-c", "max_connections=100",
            ],
            user=self.run_user,
        )  # fmt: skip

    def check(self) -> Health:
        if self.managed:
            # Before provisioning our role may not exist yet: ask the server itself.
            result = run_checked(
                [
                    str(self.bin_dir() / "pg_isready"),
                    "-h", self.endpoint.host,
                    "-p", str(self.endpoint.port),
                    "-t", "2",
                ]
            )  # fmt: skip
            return Health(result.returncode == 0, result.stdout.strip() or result.stderr.strip())
        try:
            with clients.postgres_connection(self.settings) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc).strip())
        return Health(True, "accepting connections")

    def provision(self) -> None:
        if self.managed:
            self.ensure_database(self.endpoint.user, self.endpoint.password, self.endpoint.database)
        # The Trino JDBC catalog expects its tables to exist; PyIceberg creates them (V1 schema).
        clients.iceberg_catalog(self.settings)

    def ensure_database(self, role: str, password: SecretStr, database: str) -> None:
        """Create (or update) a login role that is no superuser, and a database it owns.

        Idempotent; the password is set on every call, so a changed one takes effect. Each
        component with a database of its own (the Iceberg catalog, Superset) gets its own role.
        """
        sql = _PROVISION_SQL.format(
            role=_psql_literal(role),
            password=_psql_literal(password.get_secret_value()),
            database=_psql_literal(database),
        )
        self._run_as_superuser(sql, role)

    def ensure_monitor_role(self, role: str, password: SecretStr) -> None:
        """Create (or update) a login role granted ``pg_monitor`` and nothing else (idempotent)."""
        sql = _MONITOR_SQL.format(
            role=_psql_literal(role), password=_psql_literal(password.get_secret_value())
        )
        self._run_as_superuser(sql, role)

    def _run_as_superuser(self, sql: str, role: str) -> None:
        result = run_checked(
            [
                str(self.bin_dir() / "psql"),
                "-h", str(self.socket_dir),
                "-p", str(self.endpoint.port),
                "-U", self.superuser,
                "-d", "postgres",
                "-q", "-X",
            ],
            user=self.run_user,
            input_text=sql,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServiceStartError(self.name, f"creating the role {role!r} failed: {result.stderr}")

    def stop(self) -> bool:
        # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit cleanly.
        return self.process.stop(first_signal=signal.SIGINT)
