"""Alertmanager: receives Prometheus' alerts, groups them and posts them to the user's webhook.

Built from source like MinIO (infra/artifacts.toml [alertmanager]); clustering is off (no
gossip port is bound), the API listens on 127.0.0.1 only.
"""

from __future__ import annotations

from core.monitoring_settings import AlertmanagerSettings
from infra.services.base import Health, MonitoringService, Port, http_health, write_private
from infra.services.monitoring_config import alertmanager_config, render


class AlertmanagerService(MonitoringService):
    name = "alertmanager"

    @property
    def endpoint(self) -> AlertmanagerSettings:
        return self.settings.monitoring.alertmanager

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_MONITORING__ALERTMANAGER__PORT")]

    def url(self) -> str:
        return self.endpoint.url

    def install(self) -> None:
        self.artifacts.ensure_alertmanager()

    def credentials(self) -> list[str]:
        # Not a secret, but read only at start: a new webhook in .env restarts the server.
        return [str(self.settings.monitoring.webhook_url or "")]

    def start(self) -> None:
        am = self.endpoint
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The webhook URL may carry a token: the file is private like one.
        config = write_private(self.conf_dir / "alertmanager.yml", render(alertmanager_config(self.settings)))
        self.process.start(
            [
                str(self.artifacts.alertmanager_binary()),  # verified by install()
                f"--config.file={config}",
                f"--storage.path={self.data_dir}",
                f"--web.listen-address={am.host}:{am.port}",
                "--cluster.listen-address=",  # one node: no gossip port on 0.0.0.0:9094
            ],
            env=self._env_with(),
        )
        self.record_credentials()

    def check(self) -> Health:
        return http_health(f"{self.endpoint.url}/-/ready")
