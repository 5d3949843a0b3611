"""versitygw's accounts and bucket policy: engines read and write the warehouse, the reader only
lists and reads it, and no one else is named."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from core.settings import LakehouseSettings
from infra.artifacts import ArtifactCache
from infra.services import build_services, object_store_type
from infra.services.versitygw import IAM_FILE, USER_ROLE, VersitygwService, bucket_policy, iam_accounts

WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:CreateBucket", "s3:DeleteBucket"}


def _grants(policy: dict) -> dict[str, set[str]]:
    """Principal -> every action the policy allows it."""
    grants: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all(r.startswith("arn:aws:s3:::warehouse") for r in statement["Resource"])
        for principal in statement["Principal"]["AWS"]:
            grants.setdefault(principal, set()).update(statement["Action"])
    return grants


def test_the_engines_write_the_reader_only_reads_and_no_one_else_is_named() -> None:
    grants = _grants(bucket_policy("warehouse", ["py", "trino", "spark"], ["reader"]))
    assert set(grants) == {"py", "trino", "spark", "reader"}
    for engine in ("py", "trino", "spark"):
        assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= grants[engine]
    assert grants["reader"] == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}
    assert not grants["reader"] & WRITES
    assert not any({"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy"} & g for g in grants.values())


def test_accounts_are_ordinary_users_with_their_secrets() -> None:
    accounts = iam_accounts({"a": "secret-a", "b": "secret-b"})["accessAccounts"]
    assert set(accounts) == {"a", "b"}
    assert all(acc["role"] == USER_ROLE and acc["access"] == key for key, acc in accounts.items())
    assert accounts["b"]["secret"] == "secret-b"


def _settings(home: Path, **s3: str) -> LakehouseSettings:
    keys = ("secret_key", "trino_secret_key", "spark_secret_key", "reader_secret_key", "root_password")
    return LakehouseSettings(
        _env_file=None,
        home=home,
        s3={"server": "versitygw", **{k: secrets.token_urlsafe(12) for k in keys}, **s3},
    )


def test_the_server_setting_picks_the_object_store(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert object_store_type(settings) is VersitygwService
    names = [s.name for s in build_services(settings)]
    assert "versitygw" in names and "minio" not in names
    default = LakehouseSettings(_env_file=None, home=tmp_path)
    assert "minio" in [s.name for s in build_services(default)]


def test_the_accounts_file_is_private_holds_no_root_and_follows_a_changed_secret(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    service = VersitygwService(
        settings, ArtifactCache(tmp_path / "cache", settings.artifacts.maven_repository)
    )
    service._write_accounts()
    path = service.secret_file(IAM_FILE)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    accounts = json.loads(path.read_text())["accessAccounts"]
    assert set(accounts) == {"lakehouse", "lakehouse-trino", "lakehouse-spark", "lakehouse-reader"}
    assert settings.s3.root_password.get_secret_value() not in path.read_text()

    rotated = _settings(tmp_path, reader_secret_key="a-new-reader-secret")
    VersitygwService(rotated, service.artifacts)._write_accounts()
    assert (
        json.loads(path.read_text())["accessAccounts"]["lakehouse-reader"]["secret"] == "a-new-reader-secret"
    )
    assert not list(path.parent.glob("*.partial"))
