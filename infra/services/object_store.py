"""What the S3 servers the launcher can run (MinIO, versitygw) have in common.

Least privilege is the same on both: the server runs with a root identity that only the launcher
holds. After each start the launcher, as root, creates the warehouse bucket and gives each engine
(our Python code, Trino, Spark) read-write access to that bucket and nothing else, and the reader
list-and-read access. Every client signs as one of those identities, never as root. How the
access is granted is the server's own (MinIO: IAM policies per user; versitygw: a bucket policy
naming the users).
"""

from __future__ import annotations

from abc import abstractmethod

from core import clients
from core.exceptions import ServiceStartError
from core.settings import S3Settings
from infra.services.base import Health, Port, Service

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
POLICY_VERSION = "2012-10-17"


class ObjectStoreService(Service):
    """An S3 server holding the warehouse bucket; the subclass starts it and grants access."""

    @property
    def endpoint(self) -> S3Settings:
        return self.settings.s3

    def ports(self) -> list[Port]:
        return [Port(self.endpoint.port, "LAKEHOUSE_S3__PORT")]

    def url(self) -> str:
        return self.endpoint.endpoint

    @abstractmethod
    def _live(self) -> Health:
        """The managed server answers its own liveness probe (no credentials involved)."""

    @abstractmethod
    def _provision_as_root(self) -> None:
        """As root: the bucket, and each engine's access with its current secret (idempotent)."""

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
        """Managed: as root, the bucket and every engine's access with its current secret
        (idempotent: re-run, it rewrites the same; a secret changed in .env replaces the old
        one). External: create the bucket if missing, as our identity."""
        s3 = self.endpoint
        if not self.managed:
            client = clients.s3_client(self.settings)
            if not client.bucket_exists(s3.bucket):
                client.make_bucket(s3.bucket)
            return
        self._provision_as_root()
        health = self.check()
        if not health.ok or "present" not in health.detail:
            reason = f"the reader cannot see the bucket after provisioning: {health.detail}"
            raise ServiceStartError(self.name, reason)

    def _create_bucket_as_root(self) -> None:
        s3 = self.endpoint
        client = clients.s3_client(self.settings, s3.root())
        if not client.bucket_exists(s3.bucket):
            client.make_bucket(s3.bucket)
