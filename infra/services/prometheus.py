"""Prometheus: scrapes every service of the stack and evaluates the alert rules.

Taken from the pinned Debian package (infra/debian_packages.py). Its scrape secrets are files
of its own, 0600, written at each start and never in prometheus.yml or on a command line:
the Trino monitoring identity's password, and a MinIO metrics token (a JWT signed with the
object store's root secret, as `mc admin prometheus generate` makes, good for metrics only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

from core.monitoring_settings import PrometheusSettings
from infra.services.base import Health, MonitoringService, Port, http_health, write_private
from infra.services.monitoring_config import prometheus_config, render, render_rules

# A token lives as long as this; a new one is written at every start of Prometheus.
MINIO_TOKEN_SECONDS = 365 * 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def minio_metrics_token(access_key: str, secret_key: str, now: float, lifetime_s: int) -> str:
    """The bearer JWT MinIO accepts on /minio/v2/metrics (HS512, issuer prometheus)."""
    header = _b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
    claims = {"exp": int(now) + lifetime_s, "sub": access_key, "iss": "prometheus"}
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret_key.encode(), f"{header}.{body}".encode(), hashlib.sha512).digest()
    return f"{header}.{body}.{_b64(signature)}"


class PrometheusService(MonitoringService):
    name = "prometheus"

    @property
    def endpoint(self) -> PrometheusSettings:
        return self.settings.monitoring.prometheus

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_MONITORING__PROMETHEUS__PORT")]

    def url(self) -> str:
        return self.endpoint.url

    def install(self) -> None:
        self.artifacts.ensure_debian_programs("prometheus")

    def credentials(self) -> list[str]:
        s3 = self.settings.s3
        return [
            self.settings.trino.monitoring_password.get_secret_value(),
            s3.root_password.get_secret_value(),
        ]

    def _scrape_secrets(self) -> tuple[Path, Path | None]:
        trino_password = self.settings.trino.monitoring_password.get_secret_value()
        trino_file = write_private(self.secret_file("trino.password"), trino_password)
        if not self.settings.s3.managed or self.settings.s3.server != "minio":
            return trino_file, None  # an external S3's metrics are its operator's to scrape
        root = self.settings.s3.root()
        token = minio_metrics_token(root.access_key, root.secret(), time.time(), MINIO_TOKEN_SECONDS)
        return trino_file, write_private(self.secret_file("minio.token"), token)

    def start(self) -> None:
        prom = self.endpoint
        self.data_dir.mkdir(parents=True, exist_ok=True)
        trino_password_file, minio_token_file = self._scrape_secrets()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        rules_file = self.conf_dir / "rules.yml"
        rules_file.write_text(render_rules(self.settings.monitoring.thresholds), encoding="utf-8")
        config = prometheus_config(
            self.settings,
            rules_file=rules_file,
            ca_file=Path(str(self.settings.trino_verify)),
            trino_password_file=trino_password_file,
            minio_token_file=minio_token_file,
        )
        config_file = self.conf_dir / "prometheus.yml"
        config_file.write_text(render(config), encoding="utf-8")
        binary = self.artifacts.ensure_debian_programs("prometheus") / "prometheus"
        self.process.start(
            [
                str(binary),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--storage.tsdb.retention.time={prom.retention}",
                f"--web.listen-address={prom.host}:{prom.port}",
                # Resend firing alerts often: Alertmanager deduplicates, and a notice lost
                # in the first seconds after a start is not held back for a minute.
                f"--rules.alert.resend-delay={prom.evaluation_interval_s}s",
            ],
            env=self._env_with(),
        )
        self.record_credentials()

    def check(self) -> Health:
        return http_health(f"{self.endpoint.url}/-/ready")
