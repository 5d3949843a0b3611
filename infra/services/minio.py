"""MinIO: the S3 object store holding the Iceberg warehouse bucket.

Least privilege: MinIO runs with a root identity that only the launcher holds. After each start
the launcher, as root, creates the bucket and one MinIO user per engine (our Python code, Trino,
Spark) with a policy allowing the warehouse bucket and nothing else, and a reader allowed to
list and read it. Every client signs as one of those users, never as root.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from core import clients
from core.exceptions import ServiceStartError
from core.service_settings import ENGINES, Engine
from core.settings import S3Settings
from infra.services.base import Health, Port, Service

if TYPE_CHECKING:
    from minio import MinioAdmin

POLICY_VERSION = "2012-10-17"
# Multipart actions: PyIceberg, Trino and Spark upload large files in parts, and abort or list
# the parts of an upload that failed.
ENGINE_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
ENGINE_OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
READER_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
READER_OBJECT_ACTIONS = ("s3:GetObject",)


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

    def ready(self) -> Health:
        """Managed: the server answers (its users may not exist yet: provisioning creates them,
        as root). External: the reader sees the bucket, as in check()."""
        return self._live() if self.managed else self.check()

    def check(self) -> Health:
        """The server is live and the reader identity (not root) reaches the bucket."""
        if self.managed and not (live := self._live()).ok:
            return live
        try:
            reader = clients.s3_client(self.settings, self.endpoint.identity("reader"))
            exists = reader.bucket_exists(self.endpoint.bucket)
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy" here
            return Health(False, str(exc))
        return Health(True, f"bucket {self.endpoint.bucket} {'present' if exists else 'not created yet'}")

    def provision(self) -> None:
        """Managed: as root, create the bucket, the two policies and the engines' users with
        their current secrets (idempotent: re-run, it rewrites the same; a secret changed in
        .env replaces the old one). External: create the bucket if missing, as our identity."""
        s3 = self.endpoint
        if not self.managed:
            client = clients.s3_client(self.settings)
            if not client.bucket_exists(s3.bucket):
                client.make_bucket(s3.bucket)
            return
        Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.5),
            retry=retry_if_exception(_not_initialized),
            reraise=True,
        )(self._provision_as_root)
        health = self.check()
        if not health.ok or "present" not in health.detail:
            reason = f"the reader cannot see the bucket after provisioning: {health.detail}"
            raise ServiceStartError(self.name, reason)

    def _provision_as_root(self) -> None:
        s3 = self.endpoint
        root = s3.root()
        client = clients.s3_client(self.settings, root)
        if not client.bucket_exists(s3.bucket):
            client.make_bucket(s3.bucket)
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
