"""Superset: the dashboards, served by gunicorn from Superset's own locked environment.

Its metadata (users, dashboards, charts) lives in a database of the project's PostgreSQL with a
role of its own, which is why it starts after PostgreSQL is provisioned. It reads the lakehouse
through Trino as the analyst identity (read-only, analytics only). The dashboards are code:
``dashboards/bundle/`` is imported at every ``up`` (idempotent: it overwrites what it defines),
and ``export_dashboards`` writes what people changed in the UI back into it.
"""

from __future__ import annotations

import functools
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from core.exceptions import ConfigError, DashboardsError, ServiceStartError
from core.settings import PROJECT_ROOT, SupersetSettings
from infra.process import run_checked
from infra.services.base import Health, Port, Service
from infra.services.postgres import PostgresService
from infra.superset_venv import LOCK_DIR, SupersetEnvironment

CONFIG_FILE = LOCK_DIR / "superset_config.py"
ENSURE_ADMIN = LOCK_DIR / "ensure_admin.py"
DASHBOARDS_DIR = PROJECT_ROOT / "dashboards"
BUNDLE_DIR = DASHBOARDS_DIR / "bundle"
ASSETS_SCRIPT = DASHBOARDS_DIR / "superset_assets.py"
# Schema migrations and role sync on a first start take ~40 s on two cores; allow for a slow disk.
SETUP_TIMEOUT_S = 600
MIN_SECRET_LENGTH = 16
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class SupersetService(Service):
    name = "superset"
    after = ("postgres",)

    @property
    def endpoint(self) -> SupersetSettings:
        return self.settings.superset

    @functools.cached_property
    def environment(self) -> SupersetEnvironment:
        return SupersetEnvironment(self.settings.cache_dir)

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_SUPERSET__PORT")]

    def url(self) -> str:
        return self.endpoint.url

    def install(self) -> None:
        self.environment.ensure()

    def startup_timeout(self) -> float:
        return 180.0

    def _require_credentials(self) -> None:
        s = self.endpoint
        named = {
            "LAKEHOUSE_SUPERSET__ADMIN_PASSWORD": s.admin_password,
            "LAKEHOUSE_SUPERSET__SECRET_KEY": s.secret_key,
            "LAKEHOUSE_SUPERSET__DB_PASSWORD": s.db_password,
        }
        short = [name for name, value in named.items() if len(value.get_secret_value()) < MIN_SECRET_LENGTH]
        if short:
            raise ConfigError(
                f"{', '.join(short)}: unset or shorter than {MIN_SECRET_LENGTH} characters; "
                "`lakehouse up` generates them into .env"
            )

    def _metadata_uri(self) -> str:
        s, pg = self.endpoint, self.settings.postgres
        password = quote(s.db_password.get_secret_value(), safe="")
        return f"postgresql+psycopg2://{s.db_user}:{password}@{pg.host}:{pg.port}/{s.database}"

    def _superset_env(self, **extra: str) -> dict[str, str]:
        """What Superset's processes read (superset_config.py): secrets only in the environment.

        Without the CA-bundle variables many machines set system-wide: requests lets them
        override a connection's own CA, so the Trino connection would not verify against ours.
        """
        env = self._env_with(
            SUPERSET_CONFIG_PATH=str(CONFIG_FILE),
            SUPERSET_SECRET_KEY=self.endpoint.secret_key.get_secret_value(),
            SUPERSET_METADATA_URI=self._metadata_uri(),
            SUPERSET_DATA_DIR=str(self.data_dir),
            SUPERSET_CACHE_TIMEOUT_S=str(self.endpoint.cache_timeout_s),
            SUPERSET_ADMIN_USER=self.endpoint.admin_user,
            **extra,
        )
        return {k: v for k, v in env.items() if k not in CA_BUNDLE_VARIABLES}

    def _setup(self, label: str, argv: list[str], env: dict[str, str]) -> None:
        """One setup command, its output appended to the service log."""
        began = time.monotonic()
        result = run_checked(argv, env=env)
        with self.process.log_file.open("a") as log:
            log.write(f"--- {label} ({time.monotonic() - began:.1f}s, exit {result.returncode})\n")
            log.write(result.stdout[-20_000:] + result.stderr[-20_000:])
        if result.returncode != 0:
            raise ServiceStartError(self.name, f"{label} failed", self.process.log_file, self.process.tail())

    def start(self) -> None:
        self._require_credentials()
        s = self.endpoint
        postgres = PostgresService(self.settings, self.artifacts)
        if postgres.managed:
            postgres.ensure_database(s.db_user, s.db_password, s.database)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = self._superset_env()
        superset = str(self.environment.bin("superset"))
        # Migrations and role sync once per Superset version (a new lock re-runs them).
        migrated = self.data_dir / f"schema-{self.environment.version}"
        if not migrated.exists():
            self._setup("superset db upgrade", [superset, "db", "upgrade"], env)
            self._setup("superset init", [superset, "init"], env)
            migrated.touch()
        self.process.start(
            [
                str(self.environment.bin("gunicorn")),
                "--workers", str(s.workers),
                "--worker-class", "gthread",
                "--threads", str(s.threads),
                "--timeout", "120",
                "--bind", f"{s.host}:{s.port}",
                # gunicorn 27 opens a control socket under ~/.gunicorn by default: not ours to leave.
                "--no-control-socket",
                "superset.app:create_app()",
            ],
            env=env,
            cwd=self.data_dir,
        )  # fmt: skip
        # .env is the source of truth for the admin's password (also after a change in the UI).
        # Set while gunicorn boots: both spend their time creating the app, one per core.
        admin_env = {**env, "SUPERSET_ADMIN_PASSWORD": s.admin_password.get_secret_value()}
        try:
            self._setup("admin user", [str(self.environment.python), str(ENSURE_ADMIN)], admin_env)
        except BaseException:
            self.stop()  # not yet the launcher's to stop: start() has not returned
            raise
        self.record_credentials()

    def credentials(self) -> list[str]:
        """Superset reads its key, metadata password and admin password when it starts."""
        s = self.endpoint
        return [
            s.secret_key.get_secret_value(),
            s.db_password.get_secret_value(),
            s.admin_password.get_secret_value(),
        ]

    def check(self) -> Health:
        try:
            with urllib.request.urlopen(f"{self.endpoint.url}/health", timeout=5) as response:  # noqa: S310
                body = response.read(64).decode(errors="replace").strip()
        except (OSError, urllib.error.URLError) as exc:
            return Health(False, str(getattr(exc, "reason", exc)))
        return Health(body == "OK", f"web UI {body}")

    def provision(self) -> None:
        if self.managed and (BUNDLE_DIR / "metadata.yaml").is_file():
            self.import_dashboards()

    # -- dashboards as code ----------------------------------------------------------------------
    def _assets_env(self) -> dict[str, str]:
        t = self.settings.trino
        verify = self.settings.trino_verify
        return self._superset_env(
            DASHBOARDS_TRINO_URI=f"trino://{t.analyst_user}@{t.host}:{t.port}/{t.readonly_catalog}",
            DASHBOARDS_TRINO_PASSWORD=t.analyst_password.get_secret_value(),
            DASHBOARDS_TRINO_CA_FILE=verify if isinstance(verify, str) else "",
            DASHBOARDS_SCHEMA=self.settings.namespaces.analytics,
        )

    def _assets(self, verb: str, bundle: Path) -> str:
        if not self.managed:
            raise DashboardsError(
                "Superset is external (LAKEHOUSE_SUPERSET__MANAGED=false): import dashboards/bundle "
                "there with its own tools (Settings > Import, or `superset import-dashboards`)"
            )
        if verb == "import" and not (bundle / "metadata.yaml").is_file():
            raise DashboardsError(f"{bundle}: not a dashboards bundle (it has no metadata.yaml)")
        result = run_checked(
            [str(self.environment.python), str(ASSETS_SCRIPT), verb, str(bundle)], env=self._assets_env()
        )
        if result.returncode != 0:
            problem = (result.stderr.strip() or result.stdout.strip())[-4000:]
            raise DashboardsError(f"dashboards {verb} ({bundle}) failed:\n{problem}")
        return result.stdout.strip()

    def import_dashboards(self, bundle: Path = BUNDLE_DIR) -> str:
        """Import the bundle (overwrites what it defines; twice gives the same objects)."""
        return self._assets("import", bundle)

    def export_dashboards(self, bundle: Path = BUNDLE_DIR) -> str:
        """Write the dashboards as they are in Superset into the bundle, as diffable YAML."""
        return self._assets("export", bundle)
