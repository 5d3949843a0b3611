"""The CDR query: Kafka CDR topic -> ``raw.cdr`` exactly once, rejects to quarantine + DLQ.

Exactly once comes from the offsets ledger (``ingestion.streaming.ledger``): every commit
records the Kafka offsets it covers, and a micro-batch replayed after a crash keeps only the
records past them. The second query (``ingestion.streaming.alerts``) computes windowed KPIs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from core import clients
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from ingestion.streaming.contract import event_column_names, parse, typed_columns
from ingestion.streaming.ledger import (
    Offsets,
    batch_end_offsets,
    committed_offsets,
    not_yet_in,
    offsets_property,
    stream_batch_id,
)
from ingestion.streaming.metrics import CdrQueryMetrics
from ingestion.streaming.source import checkpoint_dir, kafka_stream

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

# Bytes of a rejected message a dead letter quotes: 512 KiB is about 700 KiB in base64 (with the
# line breaks Spark puts in it), well under the 1 MB Kafka takes by default.
DEAD_LETTER_VALUE_BYTES = 512 * 1024


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
        self.metrics = CdrQueryMetrics(settings, topic)

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
            new_cdr = valid & not_yet_in(self._committed(spark, self.tables.cdr))
            new_rejects = ~valid & not_yet_in(self._committed(spark, self.tables.quarantine))
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
                        F.lit(stream_batch_id(self.topic, ends)).alias("batch_id"),
                    ],
                )
            seconds = time.monotonic() - began
            log.info(
                "batch %d: %d rows to %s, %d quarantined in %.1fs",
                batch_id,
                landed,
                self.tables.cdr,
                quarantined,
                seconds,
            )
            self.metrics.committed(landed, quarantined, seconds, ends)
        finally:
            parsed.unpersist()

    def _dead_letters(self, rejected: DataFrame) -> None:
        """Rejected messages to the dead-letter topic, before the quarantine commit: should we
        crash between the two, the replay sends them again (at least once; the key names the
        source record, so a consumer can drop repeats)."""
        (
            dead_letters(rejected)
            .write.format("kafka")
            .options(**clients.spark_kafka_options(self.settings, "stream"))
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


def dead_letters(rejected: DataFrame) -> DataFrame:
    """Kafka ``key`` and ``value`` of the dead letter of each rejected message: keyed by its
    source (``topic:partition:offset``), JSON with its reason, coordinates and bytes.

    A letter quotes at most DEAD_LETTER_VALUE_BYTES of the message and gives its full size
    (``value_bytes``): base64 makes bytes a third longer, so a message near Kafka's 1 MB limit
    made a letter over it, which failed the micro-batch on every retry (found by the fuzz test).
    The whole message is in the quarantine table, at the same topic, partition and offset.
    """
    source = F.concat_ws(":", "topic", "partition", "offset")
    letter = F.struct(
        "reason",
        "topic",
        "partition",
        "offset",
        F.base64(F.substring("value", 1, DEAD_LETTER_VALUE_BYTES)).alias("value_base64"),
        F.octet_length("value").alias("value_bytes"),
    )
    return rejected.select(source.cast("binary").alias("key"), F.to_json(letter).alias("value"))


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


def start_cdr_query(spark: SparkSession, settings: LakehouseSettings, topic: str) -> StreamingQuery:
    """Start the CDR query on ``topic`` from its checkpoint (the earliest offset on first start)."""
    tables = StreamTables.of(settings.namespaces)
    checkpoint = checkpoint_dir(settings, topic, "cdr")
    return (
        kafka_stream(spark, settings, topic)
        .writeStream.queryName(f"cdr:{topic}")
        .foreachBatch(CdrWriter(settings, topic, tables, checkpoint))
        .option("checkpointLocation", str(checkpoint))
        .trigger(processingTime=f"{settings.stream.trigger_seconds} seconds")
        .start()
    )
