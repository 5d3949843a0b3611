"""Trino: a single coordinator that also runs the work, with the Iceberg catalog configured."""

from __future__ import annotations

import uuid
from pathlib import Path

from core import clients
from core.settings import LakehouseSettings, TrinoSettings
from infra.services.base import Health, Port, Service, java_binary

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
_S3_SECRET_ENV = "LAKEHOUSE_S3__SECRET_KEY"  # noqa: S105


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


def render_config(settings: LakehouseSettings, spill_dir: Path | None = None) -> dict[str, str]:
    """Trino's etc/ files, by relative path."""
    t, pg, s3 = settings.trino, settings.postgres, settings.s3
    config = f"""\
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port={t.port}
http-server.log.enabled=false
discovery.uri=http://{t.host}:{t.port}
query.max-memory={t.query_max_memory_per_node}
query.max-memory-per-node={t.query_max_memory_per_node}
# Two cores: keep the task concurrency small so one query does not starve the others.
task.concurrency=2
task.max-worker-threads=4
"""
    if spill_dir is not None:
        # Large batches (a window over every new CDR) spill to disk instead of failing.
        config += f"spill-enabled=true\nspiller-spill-path={spill_dir}\nmax-spill-per-node=50GB\n"
    catalog = f"""\
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
s3.aws-access-key={s3.access_key}
s3.aws-secret-key=${{ENV:{_S3_SECRET_ENV}}}
"""
    jvm = "\n".join(["-server", f"-Xmx{t.heap}", *JVM_OPTIONS]) + "\n"
    return {
        "config.properties": config,
        f"catalog/{t.catalog}.properties": catalog,
        "jvm.config": jvm,
        "log.properties": "io.trino=INFO\n",
    }


class TrinoService(Service):
    name = "trino"

    @property
    def endpoint(self) -> TrinoSettings:
        return self.settings.trino

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_TRINO__PORT")]

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

    def start(self) -> None:
        etc = self.conf_dir
        spill_dir = self.data_dir / "spill"
        spill_dir.mkdir(parents=True, exist_ok=True)
        for rel, text in render_config(self.settings, spill_dir).items():
            path = etc / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
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
        env = self._env_with(
            **{
                _PG_PASSWORD_ENV: self.settings.postgres.password.get_secret_value(),
                _S3_SECRET_ENV: self.settings.s3.secret_key.get_secret_value(),
            }
        )
        self.process.start(argv, env=env, cwd=home)

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
