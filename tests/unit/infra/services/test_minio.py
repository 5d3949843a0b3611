"""MinIO's policies: each names the warehouse bucket only; the reader may not write or delete."""

from __future__ import annotations

from core.service_settings import ENGINES
from infra.services.minio import bucket_policy, policy_name

WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:CreateBucket", "s3:DeleteBucket"}


def _actions(policy: dict[str, object]) -> dict[str, set[str]]:
    """Resource -> actions allowed on it (every statement an Allow)."""
    allowed: dict[str, set[str]] = {}
    for statement in policy["Statement"]:  # type: ignore[attr-defined]
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            allowed.setdefault(resource, set()).update(statement["Action"])
    return allowed


def test_an_engine_may_read_and_write_the_objects_of_the_warehouse_bucket_only() -> None:
    allowed = _actions(bucket_policy("warehouse", read_only=False))
    assert set(allowed) == {"arn:aws:s3:::warehouse", "arn:aws:s3:::warehouse/*"}
    assert {"s3:ListBucket", "s3:GetBucketLocation"} <= allowed["arn:aws:s3:::warehouse"]
    assert {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    } <= allowed["arn:aws:s3:::warehouse/*"]
    everything = set().union(*allowed.values())
    assert not [a for a in everything if "*" in a]  # no wildcard action
    forbidden = ("admin:", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucket", "s3:ListAllMyBuckets")
    assert not [a for a in everything if a.startswith(forbidden)]


def test_the_reader_may_list_and_read_the_warehouse_bucket_and_nothing_more() -> None:
    allowed = _actions(bucket_policy("warehouse", read_only=True))
    assert allowed == {
        "arn:aws:s3:::warehouse": {"s3:ListBucket", "s3:GetBucketLocation"},
        "arn:aws:s3:::warehouse/*": {"s3:GetObject"},
    }
    assert not WRITES & set().union(*allowed.values())


def test_policies_follow_the_configured_bucket_and_never_reuse_minio_built_in_names() -> None:
    allowed = _actions(bucket_policy("cdr-lake", read_only=False))
    assert set(allowed) == {"arn:aws:s3:::cdr-lake", "arn:aws:s3:::cdr-lake/*"}
    names = {engine: policy_name("cdr-lake", engine) for engine in ENGINES}
    assert names == {
        "lakehouse": "lakehouse-cdr-lake-readwrite",
        "trino": "lakehouse-cdr-lake-readwrite",
        "spark": "lakehouse-cdr-lake-readwrite",
        "reader": "lakehouse-cdr-lake-read",
    }
    assert not {"readwrite", "readonly", "writeonly", "consoleAdmin", "diagnostics"} & set(names.values())
