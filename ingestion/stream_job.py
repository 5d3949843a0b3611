"""The streaming job: Kafka CDR topic -> ``raw.cdr`` exactly once, rejects to quarantine + DLQ.

Exactly once: each Iceberg commit records, in its snapshot summary, the Kafka offsets it
covers (``lakehouse.kafka-offsets.<topic>``). A micro-batch replayed after a crash (Spark
re-runs the last batch whose end it did not checkpoint) keeps only records past those offsets,
so a record is in the table once whether the crash came before or after the commit. The check
reads the table, not the checkpoint: it holds even if the checkpoint is lost.

The second query (``ingestion.alerts``) computes windowed KPIs per cell and raises alerts.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from ingestion.stream_contract import parse, typed_columns
from ingestion.stream_tables import StreamTables
from lakehouse.settings import LakehouseSettings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

OFFSETS_PROPERTY = "lakehouse.kafka-offsets"
Offsets = dict[int, int]  # partition -> next offset to take


def offsets_property(topic: str) -> str:
    return f"{OFFSETS_PROPERTY}.{topic}"


def committed_offsets(spark: SparkSession, table: str, topic: str) -> Offsets:
    """Offsets of ``topic`` already in ``table``: from the newest snapshot that recorded them."""
    key = offsets_property(topic)
    rows = (
        spark.table(f"{table}.snapshots")
        .where(F.col("summary").getItem(key).isNotNull())
        .orderBy(F.col("committed_at").desc())
        .select(F.col("summary").getItem(key).alias("offsets"))
        .limit(1)
        .collect()
    )
    return {int(p): int(o) for p, o in json.loads(rows[0]["offsets"]).items()} if rows else {}


def _not_yet_in(offsets: Offsets) -> Column:
    """Records past ``offsets`` (all records when nothing was committed)."""
    start = F.lit(0)
    for partition, offset in offsets.items():
        start = F.when(F.col("partition") == partition, F.lit(offset)).otherwise(start)
    return F.col("offset") >= start


class CdrWriter:
    """``foreachBatch`` of the CDR query: one parse, then DLQ, quarantine and raw.cdr writes."""

    def __init__(self, settings: LakehouseSettings, topic: str, tables: StreamTables) -> None:
        self.settings = settings
        self.topic = topic
        self.catalog = settings.catalog.name
        self.tables = tables
        self._offsets: dict[str, Offsets] = {}  # per table, read once then kept current

    def _table(self, name: str) -> str:
        return f"{self.catalog}.{name}"

    def _committed(self, spark: SparkSession, table: str) -> Offsets:
        if table not in self._offsets:
            self._offsets[table] = committed_offsets(spark, self._table(table), self.topic)
        return self._offsets[table]

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        parsed = parse(batch).persist()
        try:
            ends = parsed.groupBy("partition").agg(F.max("offset").alias("last")).collect()
            if not ends:
                return
            rejected = parsed.where(F.col("reason").isNotNull())
            accepted = parsed.where(F.col("reason").isNull())
            quarantined = self._write_rejected(spark, rejected, ends)
            landed = self._append(
                spark,
                self.tables.cdr,
                accepted,
                ends,
                [
                    *typed_columns(F.col("fields")),
                    F.current_timestamp().alias("ingested_at"),
                    F.lit("stream").alias("source"),
                    F.lit(None).cast("string").alias("batch_id"),
                ],
            )
            log.info(
                "batch %d: %d rows to %s, %d quarantined", batch_id, landed, self.tables.cdr, quarantined
            )
        finally:
            parsed.unpersist()

    def _write_rejected(self, spark: SparkSession, rejected: DataFrame, ends: list) -> int:
        fresh = rejected.where(_not_yet_in(self._committed(spark, self.tables.quarantine)))
        if fresh.isEmpty():
            return 0
        # The dead-letter topic first: should we crash before the quarantine commit, the
        # replay sends these again (at least once; the key names the source record).
        source = F.concat_ws(":", "topic", "partition", "offset")
        (
            fresh.select(
                source.cast("binary").alias("key"),
                F.to_json(
                    F.struct(
                        "reason",
                        "topic",
                        "partition",
                        "offset",
                        F.base64("value").alias("value_base64"),
                    )
                ).alias("value"),
            )
            .write.format("kafka")
            .option("kafka.bootstrap.servers", self.settings.kafka.bootstrap_servers)
            .option("topic", self.settings.kafka.dead_letter_topic)
            .save()
        )
        columns = [
            F.col("topic"),
            F.col("partition"),
            F.col("offset"),
            F.col("timestamp").alias("kafka_timestamp"),
            F.col("key").alias("message_key"),
            F.col("value").alias("message_value"),
            F.col("reason"),
            F.current_timestamp().alias("quarantined_at"),
        ]
        return self._append(spark, self.tables.quarantine, fresh, ends, columns)

    def _append(
        self, spark: SparkSession, table: str, rows: DataFrame, ends: list, columns: list[Column]
    ) -> int:
        """Append ``columns`` of the rows not yet in ``table``, recording the batch's end offsets."""
        committed = self._committed(spark, table)
        fresh = rows.where(_not_yet_in(committed)).select(*columns)
        count = fresh.count()
        if count == 0:
            return 0
        advanced = {**committed, **{int(r["partition"]): int(r["last"]) + 1 for r in ends}}
        (
            fresh.writeTo(self._table(table))
            .option(f"snapshot-property.{offsets_property(self.topic)}", json.dumps(advanced))
            .append()
        )
        self._offsets[table] = advanced
        return count


def kafka_stream(spark: SparkSession, settings: LakehouseSettings, topic: str) -> DataFrame:
    """The CDR topic as a streaming DataFrame (from the earliest offset on first start)."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", settings.stream.max_offsets_per_trigger)
        .load()
    )


def start_cdr_query(spark: SparkSession, settings: LakehouseSettings, topic: str) -> StreamingQuery:
    tables = StreamTables.of(settings.stream.namespace, settings.stream.alerts_namespace)
    return (
        kafka_stream(spark, settings, topic)
        .writeStream.queryName(f"cdr:{topic}")
        .foreachBatch(CdrWriter(settings, topic, tables))
        .option("checkpointLocation", str(settings.checkpoints_dir / topic / "cdr"))
        .trigger(processingTime=f"{settings.stream.trigger_seconds} seconds")
        .start()
    )
