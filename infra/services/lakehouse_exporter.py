"""The lakehouse exporter as a service of the stack (the program is :mod:`infra.exporter`).

Our own Python, started with this environment's interpreter: nothing to install. It gets the
settings as variables with one secret, the ``stream`` identity's Kafka password it reads lag
with; every other secret is blank in its environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.monitoring_settings import ExporterSettings
from infra.services.base import Health, MonitoringService, Port, http_health

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KAFKA_PASSWORD = "LAKEHOUSE_KAFKA__STREAM_PASSWORD"  # noqa: S105 - a variable name


class LakehouseExporterService(MonitoringService):
    name = "lakehouse-exporter"
    after = ("kafka",)  # it asks the broker for end offsets at each scrape

    @property
    def endpoint(self) -> ExporterSettings:
        return self.settings.monitoring.exporter

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_MONITORING__EXPORTER__PORT")]

    def url(self) -> str:
        return f"http://{self.endpoint.host}:{self.endpoint.port}/metrics"

    def credentials(self) -> list[str]:
        return [self.settings.kafka.stream_password.get_secret_value()]

    def start(self) -> None:
        env = self._env_with(**self.settings.to_env(only_secrets={KAFKA_PASSWORD}))
        # PYTHONPATH: the program is a module of this project, run from any directory.
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        self.process.start([sys.executable, "-m", "infra.exporter"], env=env, cwd=PROJECT_ROOT)
        self.record_credentials()

    def check(self) -> Health:
        health = http_health(self.url())
        return Health(health.ok, "metrics served" if health.ok else health.detail)
