"""The offsets ledger: which Kafka records are already in a table, read from the table itself.

Each commit of the CDR query records, in its Iceberg snapshot summary, the next offset per
partition it covers (``lakehouse.kafka-offsets.<topic>``). A micro-batch replayed after a crash
keeps only the records past those offsets (:func:`not_yet_in`), so a record lands once whether
the crash came before or after the commit, even if the checkpoint is lost.

The alerts query cannot use offsets (a micro-batch that only moves the watermark closes windows
with the same end offsets as the one before it): each of its commits records the query's id and
micro-batch id instead (``lakehouse.alerts-batch.<query id>``, :func:`micro_batch_property`), and
a micro-batch at or below the one a table records is already in that table.

Spark's own checkpoint says where a batch ends (:func:`batch_end_offsets`) and which batches are
complete (:func:`processed_offsets`): both are files, read without a Spark job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyspark.sql import Column, SparkSession

OFFSETS_PROPERTY = "lakehouse.kafka-offsets"
MICRO_BATCH_PROPERTY = "lakehouse.alerts-batch"
Offsets = dict[int, int]  # partition -> next offset to take
NOTHING_COMMITTED = -1  # the micro-batch ledger of a query that has committed nothing


def offsets_property(topic: str) -> str:
    """Snapshot-summary key holding the offsets of ``topic`` a commit covers."""
    return f"{OFFSETS_PROPERTY}.{topic}"


def stream_batch_id(topic: str, ends: Offsets) -> str:
    """The ``batch_id`` of the rows one micro-batch lands: its topic and end offsets, e.g.
    ``cdr@0:1200,1:1180``. Unique per micro-batch (offsets only advance) and the same on a
    replay, so the pipeline can take the stream's rows by commit, as it takes a generated batch.
    """
    return f"{topic}@" + ",".join(f"{partition}:{offset}" for partition, offset in sorted(ends.items()))


def parse_offsets(recorded: str | None) -> Offsets:
    """Offsets as recorded in a summary (JSON object of partition -> offset); {} when absent."""
    return {int(p): int(o) for p, o in json.loads(recorded or "{}").items()}


def merge_offsets(*ledgers: Offsets) -> Offsets:
    """The furthest offset per partition over several ledgers (e.g. cdr and quarantine)."""
    merged: Offsets = {}
    for ledger in ledgers:
        for partition, offset in ledger.items():
            merged[partition] = max(merged.get(partition, 0), offset)
    return merged


def recorded_offsets(table: Table) -> dict[str, Offsets]:
    """Every offsets ledger the table's snapshots record, merged per summary key (one per topic)."""
    found: dict[str, list[Offsets]] = {}
    for snapshot in table.snapshots():
        properties = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        for key, value in properties.items():
            if key.startswith(f"{OFFSETS_PROPERTY}."):
                found.setdefault(key, []).append(parse_offsets(value))
    return {key: merge_offsets(*values) for key, values in found.items()}


def micro_batch_property(query_id: str) -> str:
    """Snapshot-summary key holding the last micro-batch of query ``query_id`` a table has."""
    return f"{MICRO_BATCH_PROPERTY}.{query_id}"


def recorded_micro_batches(table: Table) -> dict[str, int]:
    """Every micro-batch ledger the table's snapshots record: the highest batch id per key.

    Batch ids only grow within a query, so the maximum over every snapshot is right whatever
    their order, and a ledger carried forward by maintenance can never move it back.
    """
    found: dict[str, int] = {}
    for snapshot in table.snapshots():
        properties = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        for key, value in properties.items():
            if key.startswith(f"{MICRO_BATCH_PROPERTY}."):
                found[key] = max(found.get(key, NOTHING_COMMITTED), int(value))
    return found


def committed_micro_batch(spark: SparkSession, table: str, query_id: str) -> int:
    """The last micro-batch of query ``query_id`` already in ``table`` (NOTHING_COMMITTED if none)."""
    from pyspark.sql import functions as F

    recorded = F.col("summary").getItem(micro_batch_property(query_id))
    rows = (
        spark.table(f"{table}.snapshots")
        .where(recorded.isNotNull())
        .select(F.max(recorded.cast("bigint")).alias("done"))
        .collect()
    )
    return NOTHING_COMMITTED if rows[0]["done"] is None else int(rows[0]["done"])


def not_yet_in(offsets: Offsets) -> Column:
    """Spark filter: records past ``offsets`` (all records when nothing was committed)."""
    from pyspark.sql import functions as F

    start = F.lit(0)
    for partition, offset in offsets.items():
        start = F.when(F.col("partition") == partition, F.lit(offset)).otherwise(start)
    return F.col("offset") >= start


def committed_offsets(spark: SparkSession, table: str, topic: str) -> Offsets:
    """Offsets of ``topic`` already in ``table``: the furthest any remaining snapshot recorded.

    Offsets only grow, so the maximum over every snapshot is right whatever their order, and a
    ledger carried forward by maintenance (``ingestion.maintenance``) can never move it back.
    """
    from pyspark.sql import functions as F

    key = offsets_property(topic)
    rows = (
        spark.table(f"{table}.snapshots")
        .where(F.col("summary").getItem(key).isNotNull())
        .select(F.col("summary").getItem(key).alias("offsets"))
        .collect()
    )
    return merge_offsets(*(parse_offsets(row["offsets"]) for row in rows))


def batch_end_offsets(checkpoint: Path, batch_id: int, topic: str) -> Offsets:
    """Next offset per partition after micro-batch ``batch_id``, from the query's offset log.

    Spark writes ``offsets/<id>`` before it runs the batch (and finds it again on a replay);
    line 3 holds the source's end offsets, ``{"<topic>": {"<partition>": <next offset>}}``.
    Reading it costs no Spark job, unlike a max(offset) over the batch.
    """
    lines = (checkpoint / "offsets" / str(batch_id)).read_text().splitlines()
    return parse_offsets(json.dumps(json.loads(lines[2]).get(topic, {})))


def processed_offsets(checkpoint: Path, topic: str) -> Offsets:
    """Next offset per partition after the query's last completed micro-batch.

    A batch is in the commit log (``commits/<id>``) only once every write of the batch (DLQ,
    quarantine, raw.cdr) is done, unlike a single table's snapshot marker.
    """
    done = [int(p.name) for p in (checkpoint / "commits").glob("*") if p.name.isdigit()]
    return batch_end_offsets(checkpoint, max(done), topic) if done else {}


def lag(end_offsets: Offsets, processed: Offsets) -> int:
    """Records up to ``end_offsets`` not yet covered by ``processed``."""
    return sum(max(0, end - processed.get(p, 0)) for p, end in end_offsets.items())
