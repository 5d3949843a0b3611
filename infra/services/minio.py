"""MinIO: the S3 object store holding the Iceberg warehouse bucket."""

from __future__ import annotations

import urllib.error
import urllib.request

from core import clients
from core.settings import S3Settings
from infra.services.base import Health, Port, Service


class MinioService(Service):
    name = "minio"

    @property
    def endpoint(self) -> S3Settings:
        return self.settings.s3

    def ports(self) -> list[Port]:
        return [
            Port(self.endpoint.port, "LAKEHOUSE_S3__PORT"),
            Port(self.endpoint.console_port, "LAKEHOUSE_S3__CONSOLE_PORT"),
        ]

    def url(self) -> str:
        if self.managed:
            return (
                f"{self.endpoint.endpoint} (console http://{self.endpoint.host}:{self.endpoint.console_port})"
            )
        return self.endpoint.endpoint

    def install(self) -> None:
        self.artifacts.ensure_minio()

    def start(self) -> None:
        s3 = self.endpoint
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self._env_with(
            MINIO_ROOT_USER=s3.access_key,
            MINIO_ROOT_PASSWORD=s3.secret_key.get_secret_value(),
            MINIO_REGION=s3.region,
            # No phoning home for updates from a local dev stack.
            MINIO_UPDATE="off",
        )
        self.process.start(
            [
                str(self.artifacts.minio_binary()),
                "server",
                str(self.data_dir),
                "--address", f"{s3.host}:{s3.port}",
                "--console-address", f"{s3.host}:{s3.console_port}",
                "--quiet",
            ],
            env=env,
        )  # fmt: skip

    def check(self) -> Health:
        if self.managed:
            try:
                live = f"{self.endpoint.endpoint}/minio/health/live"
                with urllib.request.urlopen(live, timeout=2) as r:  # noqa: S310 - http(s) from settings
                    if r.status != 200:
                        return Health(False, f"HTTP {r.status}")
            except (urllib.error.URLError, OSError) as exc:
                return Health(False, str(exc))
        try:
            exists = clients.s3_client(self.settings).bucket_exists(self.endpoint.bucket)
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc))
        return Health(True, f"bucket {self.endpoint.bucket} {'present' if exists else 'not created yet'}")

    def provision(self) -> None:
        client = clients.s3_client(self.settings)
        if not client.bucket_exists(self.endpoint.bucket):
            client.make_bucket(self.endpoint.bucket)
