"""Connections to the lakehouse's services, built from the one settings source.

Every component (launcher health checks, generator, pipeline, tests) connects through these
factories, so an endpoint or credential is configured in exactly one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg2.extensions
    import trino.dbapi
    from minio import Minio
    from pyiceberg.catalog.sql import SqlCatalog

    from core.settings import LakehouseSettings


def iceberg_properties(settings: LakehouseSettings) -> dict[str, str]:
    """PyIceberg properties of the shared JDBC (SQL) catalog."""
    s3 = settings.s3
    return {
        "uri": settings.postgres.sqlalchemy_url,
        "warehouse": s3.warehouse,
        "init_catalog_tables": "true",
        "s3.endpoint": s3.endpoint,
        "s3.access-key-id": s3.access_key,
        "s3.secret-access-key": s3.secret_key.get_secret_value(),
        "s3.region": s3.region,
        "s3.force-virtual-addressing": "false",
    }


def iceberg_catalog(settings: LakehouseSettings) -> SqlCatalog:
    """The Iceberg catalog, as PyIceberg sees it (same name as in Trino and Spark)."""
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(settings.catalog.name, **iceberg_properties(settings))


def trino_connection(settings: LakehouseSettings, schema: str | None = None) -> trino.dbapi.Connection:
    """A DB-API connection to Trino on the Iceberg catalog."""
    import trino

    t = settings.trino
    return trino.dbapi.connect(
        host=t.host,
        port=t.port,
        http_scheme=t.scheme,
        user=t.user,
        catalog=t.catalog,
        schema=schema,
        source="cdr-lakehouse",
    )


def trino_query(settings: LakehouseSettings, sql: str, schema: str | None = None) -> list[list[Any]]:
    """Run one statement on Trino and return all rows."""
    conn = trino_connection(settings, schema)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        conn.close()


def s3_client(settings: LakehouseSettings) -> Minio:
    """An S3 client on the object store holding the warehouse bucket."""
    from minio import Minio

    s3 = settings.s3
    return Minio(
        f"{s3.host}:{s3.port}",
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        secure=s3.scheme == "https",
        region=s3.region,
    )


def postgres_connection(settings: LakehouseSettings) -> psycopg2.extensions.connection:
    """A connection to the catalog database as the lakehouse's own role."""
    import psycopg2

    pg = settings.postgres
    return psycopg2.connect(
        host=pg.host,
        port=pg.port,
        user=pg.user,
        password=pg.password.get_secret_value(),
        dbname=pg.database,
        connect_timeout=5,
    )


def kafka_config(settings: LakehouseSettings, **extra: Any) -> dict[str, Any]:
    """librdkafka configuration for a producer, consumer or admin client."""
    return {"bootstrap.servers": settings.kafka.bootstrap_servers, **extra}
