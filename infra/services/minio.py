"""MinIO: the default S3 server of the warehouse bucket.

Access is granted the MinIO way: one MinIO user per engine, each with an IAM policy naming the
warehouse bucket (:mod:`infra.services.object_store` says who gets what).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from core.service_settings import ENGINES, Engine
from infra.services.base import Health, Port
from infra.services.object_store import (
    ENGINE_BUCKET_ACTIONS,
    ENGINE_OBJECT_ACTIONS,
    POLICY_VERSION,
    READER_BUCKET_ACTIONS,
    READER_OBJECT_ACTIONS,
    ObjectStoreService,
)

if TYPE_CHECKING:
    from minio import MinioAdmin


def bucket_policy(bucket: str, read_only: bool) -> dict[str, Any]:
    """The IAM policy of an engine (read and write the bucket's objects) or of the reader (list
    and read them): both name the one bucket, so every other bucket is refused."""
    bucket_actions = READER_BUCKET_ACTIONS if read_only else ENGINE_BUCKET_ACTIONS
    object_actions = READER_OBJECT_ACTIONS if read_only else ENGINE_OBJECT_ACTIONS
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Effect": "Allow", "Action": list(bucket_actions), "Resource": [f"arn:aws:s3:::{bucket}"]},
            {"Effect": "Allow", "Action": list(object_actions), "Resource": [f"arn:aws:s3:::{bucket}/*"]},
        ],
    }


def policy_name(bucket: str, engine: Engine) -> str:
    """The MinIO policy an engine's user gets (not MinIO's built-in readwrite/readonly)."""
    return f"lakehouse-{bucket}-{'read' if engine == 'reader' else 'readwrite'}"


def _not_initialized(error: BaseException) -> bool:
    # Right after a start MinIO answers "live" before its IAM subsystem accepts admin calls.
    return "XMinioServerNotInitialized" in str(error) or "Server not initialized" in str(error)


class MinioService(ObjectStoreService):
    name = "minio"

    def ports(self) -> list[Port]:
        return [*super().ports(), Port(self.endpoint.console_port, "LAKEHOUSE_S3__CONSOLE_PORT")]

    def url(self) -> str:
        if self.managed:
            return (
                f"{self.endpoint.endpoint} (console http://{self.endpoint.host}:{self.endpoint.console_port})"
            )
        return self.endpoint.endpoint

    def install(self) -> None:
        self.artifacts.ensure_minio()

    def credentials(self) -> list[str]:
        """MinIO reads its root identity from the environment only when it starts."""
        s3 = self.endpoint
        return [s3.root_user, s3.root_password.get_secret_value()]

    def start(self) -> None:
        s3 = self.endpoint
        root = s3.root()  # ConfigError naming LAKEHOUSE_S3__ROOT_PASSWORD when unset
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self._env_with(
            # The only process given the root identity (environment: never argv, never a file).
            MINIO_ROOT_USER=root.access_key,
            MINIO_ROOT_PASSWORD=root.secret(),
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
        self.record_credentials()

    def _live(self) -> Health:
        try:
            live = f"{self.endpoint.endpoint}/minio/health/live"
            with urllib.request.urlopen(live, timeout=2) as r:  # noqa: S310 - http(s) from settings
                if r.status != 200:
                    return Health(False, f"HTTP {r.status}")
        except (urllib.error.URLError, OSError) as exc:
            return Health(False, str(exc))
        return Health(True, "live")

    def _provision_as_root(self) -> None:
        Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.5),
            retry=retry_if_exception(_not_initialized),
            reraise=True,
        )(self._grant_as_root)

    def _grant_as_root(self) -> None:
        s3 = self.endpoint
        self._create_bucket_as_root()
        admin = self._admin()
        for read_only in (False, True):
            engine: Engine = "reader" if read_only else "lakehouse"
            admin.policy_add(policy_name(s3.bucket, engine), policy=bucket_policy(s3.bucket, read_only))
        for engine in ENGINES:
            identity = s3.identity(engine)
            admin.user_add(identity.access_key, identity.secret())  # creates, or sets the secret
            # Replaces whatever the user had: exactly this policy, whoever attached another.
            admin.policy_set(policy_name(s3.bucket, engine), user=identity.access_key)

    def _admin(self) -> MinioAdmin:
        """MinIO's admin API as root (provisioning only)."""
        from minio import MinioAdmin
        from minio.credentials import StaticProvider

        s3 = self.endpoint
        root = s3.root()
        return MinioAdmin(
            endpoint=f"{s3.host}:{s3.port}",
            credentials=StaticProvider(root.access_key, root.secret()),
            region=s3.region,
            secure=s3.scheme == "https",
        )
