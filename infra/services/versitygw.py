"""versitygw: the second S3 server (``LAKEHOUSE_S3__SERVER=versitygw``), Apache-2.0, with its
POSIX backend: the bucket is a directory of the data dir, each object a file.

Why a second server: MinIO's community edition is archived upstream. With versitygw the whole
lakehouse (PyIceberg, Trino, Spark) runs unchanged on another implementation of S3.

Access, the versitygw way: its internal IAM keeps the engines' accounts in ``users.json``, which
the launcher writes (0600, atomically) before the start and at each provisioning; a bucket policy
naming those accounts grants each one exactly what :mod:`infra.services.object_store` lists. The
root identity reaches the server through its environment only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from core import clients
from core.service_settings import ENGINES
from infra.services.base import Health, http_health
from infra.services.object_store import (
    ENGINE_BUCKET_ACTIONS,
    ENGINE_OBJECT_ACTIONS,
    POLICY_VERSION,
    READER_BUCKET_ACTIONS,
    READER_OBJECT_ACTIONS,
    ObjectStoreService,
)

HEALTH_PATH = "/health"
# The internal IAM's account file and the role of an ordinary account (auth/iam.go upstream).
IAM_FILE = "users.json"
USER_ROLE = "user"


def iam_accounts(accounts: dict[str, str]) -> dict[str, Any]:
    """versitygw's ``users.json`` for these access keys and secrets, all ordinary users."""
    return {
        "accessAccounts": {
            access: {"access": access, "secret": secret, "role": USER_ROLE, "userID": 0, "groupID": 0}
            for access, secret in accounts.items()
        }
    }


def bucket_policy(bucket: str, engines: list[str], readers: list[str]) -> dict[str, Any]:
    """The warehouse bucket's policy: the engines read and write its objects, the readers list
    and read them; no one else gets anything (versitygw denies what no statement allows)."""

    def allow(principals: list[str], bucket_actions: tuple[str, ...], object_actions: tuple[str, ...]):
        return [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": list(bucket_actions),
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": list(object_actions),
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            },
        ]

    return {
        "Version": POLICY_VERSION,
        "Statement": [
            *allow(engines, ENGINE_BUCKET_ACTIONS, ENGINE_OBJECT_ACTIONS),
            *allow(readers, READER_BUCKET_ACTIONS, READER_OBJECT_ACTIONS),
        ],
    }


class VersitygwService(ObjectStoreService):
    name = "versitygw"

    def install(self) -> None:
        self.artifacts.ensure_versitygw()

    def credentials(self) -> list[str]:
        """versitygw reads its root identity from the environment only when it starts."""
        s3 = self.endpoint
        return [s3.root_user, s3.root_password.get_secret_value()]

    def _write_accounts(self) -> None:
        """The engines' accounts with their current secrets; replaced atomically, so the server
        (which reads the file at each request: its IAM cache is off) never sees half of one."""
        s3 = self.endpoint
        accounts = {s3.identity(e).access_key: s3.identity(e).secret() for e in ENGINES}
        target = self.secret_file(IAM_FILE)  # creates the 0700 directory
        partial = target.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(iam_accounts(accounts), out)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)

    def start(self) -> None:
        s3 = self.endpoint
        root = s3.root()  # ConfigError naming LAKEHOUSE_S3__ROOT_PASSWORD when unset
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_accounts()
        env = self._env_with(
            # The only process given the root identity (environment: never argv, never a file).
            ROOT_ACCESS_KEY_ID=root.access_key,
            ROOT_SECRET_ACCESS_KEY=root.secret(),
        )
        self.process.start(
            [
                str(self.artifacts.versitygw_binary()),
                "--port", f"{s3.host}:{s3.port}",
                "--region", s3.region,
                "--iam-dir", str(self.secret_file(IAM_FILE).parent),
                # The launcher rewrites users.json when a secret changes: take it at once.
                "--iam-cache-disable",
                "--health", HEALTH_PATH,
                "--quiet",
                "posix",
                str(self.data_dir),
            ],
            env=env,
        )  # fmt: skip
        self.record_credentials()

    def _live(self) -> Health:
        health = http_health(f"{self.endpoint.endpoint}{HEALTH_PATH}", timeout=2)
        return Health(True, "live") if health.ok else health

    def _provision_as_root(self) -> None:
        s3 = self.endpoint
        self._write_accounts()
        self._create_bucket_as_root()
        engines = [s3.identity(e).access_key for e in ENGINES if e != "reader"]
        policy = bucket_policy(s3.bucket, engines, [s3.identity("reader").access_key])
        # Replaces the bucket's policy: exactly these grants, whatever was set before.
        clients.s3_client(self.settings, s3.root()).set_bucket_policy(s3.bucket, json.dumps(policy))
