"""The CDR topic as a Spark stream: the one place the job's queries read Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core import clients
from core.settings import LakehouseSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def kafka_stream(spark: SparkSession, settings: LakehouseSettings, topic: str) -> DataFrame:
    """The CDR topic as a streaming DataFrame (from the earliest offset on first start), read
    as the ``stream`` identity in consumer groups named with its prefix (which its ACL covers)."""
    return (
        spark.readStream.format("kafka")
        .options(**clients.spark_kafka_options(settings, "stream"))
        .option("groupIdPrefix", settings.kafka.stream_group_prefix)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", settings.stream.max_offsets_per_trigger)
        .load()
    )


def checkpoint_dir(settings: LakehouseSettings, topic: str, query: str) -> Path:
    """Where Spark keeps the checkpoint of ``query`` ("cdr" or "alerts") on ``topic``."""
    return settings.checkpoints_dir / topic / query
