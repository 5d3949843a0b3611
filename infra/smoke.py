"""Verify a running stack from the outside, as any client would (`python -m infra.smoke`).

Checks what a user relies on after `make up`: the bucket over S3 with the configured keys,
Trino listing the Iceberg catalog, Kafka listing the project's topics, and the Iceberg catalog
tables in PostgreSQL. Exits non-zero naming each failed check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from confluent_kafka.admin import AdminClient

from core import clients
from core.settings import LakehouseSettings, load_settings


class CheckFailedError(Exception):
    """One client-side check did not hold."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailedError(message)


def _bucket(settings: LakehouseSettings) -> str:
    _require(clients.s3_client(settings).bucket_exists(settings.s3.bucket), "bucket missing")
    return f"bucket {settings.s3.bucket} reachable with the configured keys"


def _trino(settings: LakehouseSettings) -> str:
    catalogs = {row[0] for row in clients.trino_query(settings, "SHOW CATALOGS")}
    _require(settings.trino.catalog in catalogs, f"catalog {settings.trino.catalog} not in {catalogs}")
    return f"Trino lists catalogs {sorted(catalogs)}"


def _kafka(settings: LakehouseSettings) -> str:
    topics = set(AdminClient(clients.kafka_config(settings, "admin")).list_topics(timeout=10).topics)
    missing = set(settings.kafka.topics) - topics
    _require(not missing, f"topics missing: {sorted(missing)}")
    return f"Kafka lists {sorted(settings.kafka.topics)}"


def _catalog_tables(settings: LakehouseSettings) -> str:
    with clients.postgres_connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name IN ('iceberg_tables', 'iceberg_namespace_properties') ORDER BY 1"
        )
        found = [row[0] for row in cur.fetchall()]
    _require(found == ["iceberg_namespace_properties", "iceberg_tables"], f"found {found}")
    return "Iceberg catalog tables present in PostgreSQL"


CHECKS: tuple[Callable[[LakehouseSettings], str], ...] = (_bucket, _trino, _kafka, _catalog_tables)


def main() -> int:
    settings = load_settings()
    failures = 0
    for check in CHECKS:
        try:
            print(f"ok   {check(settings)}")
        except Exception as exc:  # noqa: BLE001 - report every failed check, then exit non-zero
            failures += 1
            print(f"FAIL {check.__name__.lstrip('_')}: {exc}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
