"""Trino: a single coordinator that also runs the work, with the Iceberg catalog configured.

Clients log in with a password over HTTPS; file-based access control decides what each
identity may do (see ``access_rules``). Analysts reach the data only through a read-only
catalog over the same JDBC catalog: file-based rules do not guard table procedures
(``ALTER TABLE ... EXECUTE``), a read-only catalog refuses every write.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from pathlib import Path

from core import clients
from core.exceptions import ConfigError
from core.private_files import write_private
from core.settings import LakehouseSettings, S3Identity, TrinoSettings
from infra.services.base import Health, Port, Service, java_binary
from infra.tls import ensure_server_certificate

# From Trino's deployment guide; the heap comes from settings (LAKEHOUSE_TRINO__HEAP).
JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=32M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    # Java 25 warns about these for Trino's libraries; allow them explicitly.
    "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow",
)

# Secrets reach Trino through its ${ENV:...} substitution, so no config file on disk holds them.
_PG_PASSWORD_ENV = "LAKEHOUSE_POSTGRES__PASSWORD"  # noqa: S105 - a variable name, not a secret
_SHARED_SECRET_ENV = "LAKEHOUSE_TRINO__SHARED_SECRET"  # noqa: S105
# Trino's file authenticator checks PBKDF2WithHmacSHA1 hashes ("iterations:salt:hash", hex);
# a login is verified once and then cached, so the cost is paid per session, not per request.
PBKDF2_ITERATIONS = 100_000


def node_properties(settings: LakehouseSettings, data_dir: Path, node_id: str) -> dict[str, str]:
    """Node identity; Trino reads these as JVM system properties (its launcher's convention)."""
    host = settings.trino.host
    return {
        "node.environment": "lakehouse",
        "node.id": node_id,
        "node.data-dir": str(data_dir),
        "node.bind-ip": host,
        "node.internal-address": host,
    }


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of Trino's password file: the user and a salted PBKDF2 hash of the password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, PBKDF2_ITERATIONS, dklen=32)
    return f"{user}:{PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}"


def access_rules(trino: TrinoSettings, analytics: str) -> dict[str, object]:
    """File-based access control: who may do what (Trino denies whatever no rule allows).

    - the engineer (pipeline, stream, tests) reads and writes every catalog;
    - the analyst sees one catalog, read-only, and in it only the ``analytics`` schema; it runs
      its own queries and cannot see anyone else's (nor their text);
    - monitoring reads system information (metrics) and nothing else.
    """
    engineer, analyst, monitoring = trino.user, trino.analyst_user, trino.monitoring_user
    return {
        "catalogs": [
            {"user": engineer, "catalog": ".*", "allow": "all"},
            {"user": analyst, "catalog": trino.readonly_catalog, "allow": "read-only"},
        ],
        "schemas": [
            {"user": engineer, "schema": ".*", "owner": True},
            {"user": analyst, "catalog": trino.readonly_catalog, "schema": analytics, "owner": False},
        ],
        "tables": [
            {
                "user": engineer,
                "privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"],
            },
            {
                "user": analyst,
                "catalog": trino.readonly_catalog,
                "schema": analytics,
                "privileges": ["SELECT"],
            },
        ],
        "queries": [
            {"user": engineer, "allow": ["execute", "kill", "view"]},
            {"user": analyst, "allow": ["execute"]},
        ],
        "system_information": [
            {"user": engineer, "allow": ["read", "write"]},
            {"user": monitoring, "allow": ["read"]},
        ],
        "system_session_properties": [{"user": f"{engineer}|{analyst}", "allow": True}],
        "catalog_session_properties": [{"user": engineer, "allow": True}],
    }


def s3_identity(settings: LakehouseSettings, read_only: bool) -> S3Identity:
    """Whom a catalog signs S3 requests as: the writable one as Trino's engine identity, the
    read-only one as the reader, so that the object store itself refuses a write through it
    (should Trino's read-only check ever be bypassed) - it never needs to write."""
    return settings.s3.identity("reader" if read_only else "trino")


def _catalog_properties(settings: LakehouseSettings, read_only: bool) -> str:
    t, pg, s3 = settings.trino, settings.postgres, settings.s3
    identity = s3_identity(settings, read_only)
    text = f"""\
connector.name=iceberg
iceberg.catalog.type=jdbc
iceberg.jdbc-catalog.catalog-name={settings.catalog.name}
iceberg.jdbc-catalog.driver-class=org.postgresql.Driver
iceberg.jdbc-catalog.connection-url={pg.jdbc_url}
iceberg.jdbc-catalog.connection-user={pg.user}
iceberg.jdbc-catalog.connection-password=${{ENV:{_PG_PASSWORD_ENV}}}
iceberg.jdbc-catalog.default-warehouse-dir={s3.warehouse}
iceberg.jdbc-catalog.schema-version=V1
# `lakehouse maintain` expires snapshots and orphan files older than a day by default (the
# stream commits every few seconds); Trino's own floor is 7 days.
iceberg.expire-snapshots.min-retention={t.maintenance_min_retention}
iceberg.remove-orphan-files.min-retention={t.maintenance_min_retention}
fs.native-s3.enabled=true
s3.endpoint={s3.endpoint}
s3.region={s3.region}
s3.path-style-access=true
s3.aws-access-key={identity.access_key}
s3.aws-secret-key=${{ENV:{identity.variable}}}
"""
    if read_only:
        text += "# Analysts' view of the same tables: every write and table procedure is refused.\n"
        text += "iceberg.security=read-only\n"
    return text


def render_config(
    settings: LakehouseSettings, etc: Path, tls_pem: Path, spill_dir: Path | None = None
) -> dict[str, str]:
    """Trino's files under ``etc``, by relative path (no secret in any: secrets come from the
    environment, passwords as hashes in password.db, written by start())."""
    t = settings.trino
    config = f"""\
coordinator=true
node-scheduler.include-coordinator=true
# Clients: HTTPS with a password. Node-to-node traffic: plain HTTP on loopback, authenticated
# with the shared secret; user logins are refused there (no insecure authentication over HTTP).
http-server.https.enabled=true
http-server.https.port={t.port}
http-server.https.keystore.path={tls_pem}
http-server.http.port={t.internal_port}
http-server.authentication.type=PASSWORD
http-server.authentication.allow-insecure-over-http=false
password-authenticator.config-files={etc / "password-authenticator.properties"}
access-control.config-files={etc / "access-control.properties"}
internal-communication.shared-secret=${{ENV:{_SHARED_SECRET_ENV}}}
http-server.log.enabled=false
discovery.uri=http://{t.host}:{t.internal_port}
query.max-memory={t.query_max_memory_per_node}
query.max-memory-per-node={t.query_max_memory_per_node}
# Two cores: keep the task concurrency small so one query does not starve the others.
task.concurrency=2
task.max-worker-threads=4
"""
    if spill_dir is not None:
        # Large batches (a window over every new CDR) spill to disk instead of failing.
        config += f"spill-enabled=true\nspiller-spill-path={spill_dir}\nmax-spill-per-node=50GB\n"
    jvm = "\n".join(["-server", f"-Xmx{t.heap}", *JVM_OPTIONS]) + "\n"
    rules = access_rules(t, settings.namespaces.analytics)
    return {
        "config.properties": config,
        f"catalog/{t.catalog}.properties": _catalog_properties(settings, read_only=False),
        f"catalog/{t.readonly_catalog}.properties": _catalog_properties(settings, read_only=True),
        "password-authenticator.properties": (
            f"password-authenticator.name=file\nfile.password-file={etc}/password.db\n"
        ),
        "access-control.properties": (f"access-control.name=file\nsecurity.config-file={etc}/rules.json\n"),
        "rules.json": json.dumps(rules, indent=2) + "\n",
        "jvm.config": jvm,
        "log.properties": "io.trino=INFO\n",
    }


class TrinoService(Service):
    name = "trino"

    @property
    def endpoint(self) -> TrinoSettings:
        return self.settings.trino

    def ports(self) -> list[Port]:
        return [
            Port(self.endpoint.port, "LAKEHOUSE_TRINO__PORT"),
            Port(self.endpoint.internal_port, "LAKEHOUSE_TRINO__INTERNAL_PORT"),
        ]

    def url(self) -> str:
        return f"{self.endpoint.url} (web UI {self.endpoint.url}/ui/)"

    def install(self) -> None:
        self.artifacts.ensure_trino()

    def startup_timeout(self) -> float:
        return 180.0

    def _node_id(self) -> str:
        # Stable across restarts, as Trino's deployment guide asks.
        id_file = self.data_dir / "node-id"
        if not id_file.exists():
            id_file.parent.mkdir(parents=True, exist_ok=True)
            id_file.write_text(str(uuid.uuid4()))
        return id_file.read_text().strip()

    def _require_credentials(self) -> None:
        t = self.endpoint
        if t.scheme != "https":
            raise ConfigError(
                "LAKEHOUSE_TRINO__SCHEME: the managed Trino serves HTTPS only (Trino checks "
                "passwords only over TLS); allowed: https"
            )
        named = {
            "LAKEHOUSE_TRINO__PASSWORD": t.password,
            "LAKEHOUSE_TRINO__ANALYST_PASSWORD": t.analyst_password,
            "LAKEHOUSE_TRINO__MONITORING_PASSWORD": t.monitoring_password,
            _SHARED_SECRET_ENV: t.shared_secret,
        }
        missing = [name for name, value in named.items() if len(value.get_secret_value()) < 16]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)}: unset or shorter than 16 characters; `lakehouse up` "
                "generates them into .env"
            )

    def start(self) -> None:
        self._require_credentials()
        etc = self.conf_dir
        spill_dir = self.data_dir / "spill"
        spill_dir.mkdir(parents=True, exist_ok=True)
        tls = ensure_server_certificate(self.settings.tls_dir, self.name, [self.endpoint.host, "localhost"])
        for rel, text in render_config(self.settings, etc, tls.key_and_certificate, spill_dir).items():
            path = etc / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        passwords = (
            "\n".join(
                password_line(user, password.get_secret_value())
                for user, password in self.endpoint.identities().items()
            )
            + "\n"
        )
        write_private(etc / "password.db", passwords)
        jvm = (etc / "jvm.config").read_text().split()
        home = self.artifacts.trino_home()
        node = node_properties(self.settings, self.data_dir, self._node_id())
        argv = [
            str(java_binary(self.settings)),
            *jvm,
            *(f"-D{key}={value}" for key, value in node.items()),
            f"-Dconfig={etc / 'config.properties'}",
            f"-Dlog.levels-file={etc / 'log.properties'}",
            # Log to stdout, which the launcher writes to .lakehouse/logs/trino.log.
            "-Dlog.enable-console=true",
            f"-Dcatalog.config-dir={etc / 'catalog'}",
            f"-Dplugin.dir={home / 'plugin'}",
            "-cp",
            str(home / "lib" / "*"),
            "io.trino.server.TrinoServer",
        ]
        env = self._env_with(**self._secrets())
        self.process.start(argv, env=env, cwd=home)
        self.record_credentials()

    def _secrets(self) -> dict[str, str]:
        """What Trino reads through ${ENV:...}: the catalog's PostgreSQL password, the S3 secrets
        of its two catalogs' identities (never MinIO's root) and the nodes' shared secret."""
        identities = [s3_identity(self.settings, read_only) for read_only in (False, True)]
        s3 = {identity.variable: identity.secret() for identity in identities}
        return {
            _PG_PASSWORD_ENV: self.settings.postgres.password.get_secret_value(),
            **s3,
            _SHARED_SECRET_ENV: self.endpoint.shared_secret.get_secret_value(),
        }

    def credentials(self) -> list[str]:
        """Trino reads its secrets, S3 keys and password hashes at start: a change needs a restart."""
        keys = [s3_identity(self.settings, read_only).access_key for read_only in (False, True)]
        users = self.endpoint.identities()
        passwords = [password.get_secret_value() for password in users.values()]
        return [*self._secrets().values(), *keys, *users, *passwords]

    def check(self) -> Health:
        catalog = self.endpoint.catalog
        try:
            # The catalog answers (on the coordinator) before the node scheduler lists an active
            # node: a query would then fail with NO_NODES_AVAILABLE. Healthy means both.
            ((nodes,),) = clients.trino_query(
                self.settings, "SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'"
            )
            rows = clients.trino_query(self.settings, f"SHOW SCHEMAS FROM {catalog}")
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if not nodes:
            return Health(False, "no active node yet")
        return Health(True, f"catalog {catalog}: {len(rows)} schemas, {nodes} active node(s)")
