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
import time
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from ingestion.stream_contract import event_column_names, parse, typed_columns
from ingestion.stream_tables import StreamTables
from ingestion.streaming import batch_end_offsets
from lakehouse.settings import LakehouseSettings

if TYPE_CHECKING:
    from pathlib import Path

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
    """``foreachBatch`` of the CDR query: one parse, one count, then DLQ, quarantine, raw.cdr."""

    def __init__(
        self, settings: LakehouseSettings, topic: str, tables: StreamTables, checkpoint: Path
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.catalog = settings.catalog.name
        self.tables = tables
        self.checkpoint = checkpoint
        self._offsets: dict[str, Offsets] = {}  # per table, read once then kept current

    def _table(self, name: str) -> str:
        return f"{self.catalog}.{name}"

    def _committed(self, spark: SparkSession, table: str) -> Offsets:
        if table not in self._offsets:
            self._offsets[table] = committed_offsets(spark, self._table(table), self.topic)
        return self._offsets[table]

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        began = time.monotonic()
        ends = batch_end_offsets(self.checkpoint, batch_id, self.topic)
        valid = F.col("reason").isNull()
        parsed = parse(batch)
        # Cache what the writes need, typed once: the raw bytes only of rejected messages.
        parsed = parsed.select(
            "topic",
            "partition",
            "offset",
            "timestamp",
            "key",
            "reason",
            F.when(~valid, F.col("value")).alias("value"),
            *typed_columns(F.col("fields"), valid),
        ).persist()
        try:
            # Rows not already in their table (a replayed batch may be partly committed).
            new_cdr = valid & _not_yet_in(self._committed(spark, self.tables.cdr))
            new_rejects = ~valid & _not_yet_in(self._committed(spark, self.tables.quarantine))
            accepted, rejected = parsed.where(new_cdr), parsed.where(new_rejects)
            counts = parsed.agg(F.count(F.when(new_cdr, 1)), F.count(F.when(new_rejects, 1))).first()
            landed, quarantined = int(counts[0]), int(counts[1])
            if quarantined:
                self._dead_letters(rejected)
                self._append(self.tables.quarantine, rejected, ends, _quarantine_columns())
            if landed:
                self._append(
                    self.tables.cdr,
                    accepted,
                    ends,
                    [
                        *event_column_names(),
                        F.current_timestamp().alias("ingested_at"),
                        F.lit("stream").alias("source"),
                        F.lit(None).cast("string").alias("batch_id"),
                    ],
                )
            log.info(
                "batch %d: %d rows to %s, %d quarantined in %.1fs",
                batch_id,
                landed,
                self.tables.cdr,
                quarantined,
                time.monotonic() - began,
            )
        finally:
            parsed.unpersist()

    def _dead_letters(self, rejected: DataFrame) -> None:
        """Rejected messages to the dead-letter topic, before the quarantine commit: should we
        crash between the two, the replay sends them again (at least once; the key names the
        source record, so a consumer can drop repeats)."""
        source = F.concat_ws(":", "topic", "partition", "offset")
        letter = F.struct("reason", "topic", "partition", "offset", F.base64("value").alias("value_base64"))
        (
            rejected.select(source.cast("binary").alias("key"), F.to_json(letter).alias("value"))
            .write.format("kafka")
            .option("kafka.bootstrap.servers", self.settings.kafka.bootstrap_servers)
            .option("topic", self.settings.kafka.dead_letter_topic)
            .save()
        )

    def _append(self, table: str, rows: DataFrame, ends: Offsets, columns: list[Column | str]) -> None:
        """Append ``columns`` of ``rows`` to ``table``, recording the batch's end offsets."""
        advanced = {**self._offsets[table], **ends}
        (
            rows.select(*columns)
            .writeTo(self._table(table))
            .option(f"snapshot-property.{offsets_property(self.topic)}", json.dumps(advanced))
            # No shuffle to cluster rows by partition: each task keeps a writer per day open.
            .option("distribution-mode", "none")
            .option("fanout-enabled", "true")
            .append()
        )
        self._offsets[table] = advanced


def _quarantine_columns() -> list[Column | str]:
    return [
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").alias("message_key"),
        F.col("value").alias("message_value"),
        "reason",
        F.current_timestamp().alias("quarantined_at"),
    ]


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
    checkpoint = settings.checkpoints_dir / topic / "cdr"
    return (
        kafka_stream(spark, settings, topic)
        .writeStream.queryName(f"cdr:{topic}")
        .foreachBatch(CdrWriter(settings, topic, tables, checkpoint))
        .option("checkpointLocation", str(checkpoint))
        .trigger(processingTime=f"{settings.stream.trigger_seconds} seconds")
        .start()
    )
