"""prometheus-postgres-exporter: PostgreSQL's statistics as metrics, as a pg_monitor role.

Its role can read the statistics views and nothing else (no database of its own, no table);
its password is read from a 0600 file (``DATA_SOURCE_PASS_FILE``), never from argv.
"""

from __future__ import annotations

from core.exceptions import ConfigError
from core.monitoring_settings import PostgresExporterSettings
from infra.services.base import Health, MonitoringService, Port, http_health, write_private
from infra.services.postgres import PostgresService


class PostgresExporterService(MonitoringService):
    name = "postgres-exporter"
    after = ("postgres",)  # its role is created by the database's superuser

    @property
    def endpoint(self) -> PostgresExporterSettings:
        return self.settings.monitoring.postgres_exporter

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_MONITORING__POSTGRES_EXPORTER__PORT")]

    def url(self) -> str:
        return f"http://{self.endpoint.host}:{self.endpoint.port}/metrics"

    def install(self) -> None:
        self.artifacts.ensure_debian_programs("prometheus-postgres-exporter")

    def credentials(self) -> list[str]:
        return [self.endpoint.db_password.get_secret_value()]

    def start(self) -> None:
        exporter, pg = self.endpoint, self.settings.postgres
        if not exporter.db_password.get_secret_value():
            raise ConfigError(
                "LAKEHOUSE_MONITORING__POSTGRES_EXPORTER__DB_PASSWORD is unset: "
                "`lakehouse up` generates it into .env"
            )
        postgres = PostgresService(self.settings, self.artifacts)
        if postgres.managed:
            postgres.ensure_monitor_role(exporter.db_user, exporter.db_password)
        password_file = write_private(
            self.secret_file("db.password"), exporter.db_password.get_secret_value()
        )
        binary = self.artifacts.ensure_debian_programs("prometheus-postgres-exporter")
        self.process.start(
            [
                str(binary / "prometheus-postgres-exporter"),
                f"--web.listen-address={exporter.host}:{exporter.port}",
            ],
            env=self._env_with(
                DATA_SOURCE_URI=f"{pg.host}:{pg.port}/postgres?sslmode=disable",
                DATA_SOURCE_USER=exporter.db_user,
                DATA_SOURCE_PASS_FILE=str(password_file),
            ),
        )
        self.record_credentials()

    def check(self) -> Health:
        health = http_health(self.url())
        return Health(health.ok, "metrics served" if health.ok else health.detail)
