"""A local Spark session wired to the lakehouse: the shared Iceberg JDBC catalog, S3 and Kafka.

The JDK 17 and the jars are given (the launcher installs them: ``infra.spark_runtime``); nothing
is installed while a session starts. Secrets never go on the JVM's command line,
where any local user could read them: they are set on the running session before the catalog
is first used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import LakehouseSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def catalog_conf(settings: LakehouseSettings) -> dict[str, str]:
    """Spark settings of the shared Iceberg catalog, without secrets."""
    prefix = f"spark.sql.catalog.{settings.catalog.name}"
    return {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        f"{prefix}.uri": settings.postgres.jdbc_url,
        f"{prefix}.jdbc.user": settings.postgres.user,
        # V1 catalog tables hold views too: the schema PyIceberg and Trino use.
        f"{prefix}.jdbc.schema-version": "V1",
        f"{prefix}.warehouse": settings.s3.warehouse,
        f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{prefix}.s3.endpoint": settings.s3.endpoint,
        f"{prefix}.s3.path-style-access": "true",
        f"{prefix}.client.region": settings.s3.region,
    }


def secret_conf(settings: LakehouseSettings) -> dict[str, str]:
    """The catalog's credentials: set on the running session, never on the command line. Spark
    signs S3 requests as its own identity (``LAKEHOUSE_S3__SPARK_ACCESS_KEY``), which may touch
    the warehouse bucket only."""
    prefix = f"spark.sql.catalog.{settings.catalog.name}"
    s3 = settings.s3.identity("spark")
    return {
        f"{prefix}.jdbc.password": settings.postgres.password.get_secret_value(),
        f"{prefix}.s3.access-key-id": s3.access_key,
        f"{prefix}.s3.secret-access-key": s3.secret(),
    }


def spark_session(
    settings: LakehouseSettings, app_name: str, java_home: Path, jars: Sequence[Path]
) -> SparkSession:
    """Start (or return) this process's Spark session, ready to read and write the lakehouse."""
    from pyspark.sql import SparkSession

    # This process is a Spark driver and nothing else: its environment is Spark's to set.
    os.environ["JAVA_HOME"] = str(java_home)
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    stream = settings.stream
    builder = (
        SparkSession.builder.master(f"local[{stream.cores}]")
        .appName(app_name)
        .config("spark.jars", ",".join(map(str, jars)))
        .config("spark.driver.memory", stream.driver_memory)
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(stream.cores))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .config("spark.local.dir", str(settings.home / "spark-tmp"))
    )
    for key, value in catalog_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    for key, value in secret_conf(settings).items():
        spark.conf.set(key, value)
    return spark
