"""The offsets ledger: parsed, merged, applied as a filter, and read from Spark's checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingestion.streaming.ledger import (
    OFFSETS_PROPERTY,
    Offsets,
    batch_end_offsets,
    lag,
    merge_offsets,
    not_yet_in,
    offsets_property,
    parse_offsets,
    processed_offsets,
    stream_batch_id,
)
from tests.unit.ingestion.streaming.kafka_records import KAFKA_SCHEMA, PRODUCED_AT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TOPIC = "cdr"


# --- Parsing and merging --------------------------------------------------------------------------


def test_offsets_property_is_per_topic() -> None:
    assert offsets_property("cdr") == f"{OFFSETS_PROPERTY}.cdr"
    assert offsets_property("cdr") != offsets_property("cdr-replay")


@pytest.mark.parametrize("absent", [None, "", "{}"])
def test_nothing_recorded_parses_to_no_offsets(absent: str | None) -> None:
    assert parse_offsets(absent) == {}


def test_recorded_offsets_parse_to_int_partitions_and_offsets() -> None:
    parsed = parse_offsets(json.dumps({"0": 123, "1": 45, "10": 0}))
    assert parsed == {0: 123, 1: 45, 10: 0}
    assert all(type(p) is int and type(o) is int for p, o in parsed.items())


def test_parse_offsets_round_trips_what_a_commit_records() -> None:
    offsets: Offsets = {0: 9_223_372_036_854_775_807, 3: 1, 2: 0}
    assert parse_offsets(json.dumps({str(p): o for p, o in offsets.items()})) == offsets


@pytest.mark.parametrize("corrupt", ["{", "not json", '{"zero": 1}', '{"0": "many"}'])
def test_a_corrupt_ledger_raises_rather_than_reading_as_empty(corrupt: str) -> None:
    # Read as {} it would replay the whole topic: every record would land twice.
    with pytest.raises(ValueError):
        parse_offsets(corrupt)


def test_merge_keeps_the_furthest_offset_per_partition() -> None:
    cdr, quarantine = {0: 10, 1: 3}, {0: 7, 1: 8, 2: 5}
    assert merge_offsets(cdr, quarantine) == {0: 10, 1: 8, 2: 5}
    assert merge_offsets(quarantine, cdr) == merge_offsets(cdr, quarantine)
    assert (cdr, quarantine) == ({0: 10, 1: 3}, {0: 7, 1: 8, 2: 5})  # inputs untouched


def test_merge_of_nothing_is_nothing() -> None:
    assert merge_offsets() == {}
    assert merge_offsets({}, {}) == {}
    assert merge_offsets({4: 2}) == {4: 2}


# --- The filter -----------------------------------------------------------------------------------


# (partition, offset) of a batch: 4 partitions x offsets 0-5.
RECORDS = [(p, o) for p in range(4) for o in range(6)]


def _kept(spark: SparkSession, offsets: Offsets) -> set[tuple[int, int]]:
    rows = [(None, b"{}", TOPIC, p, o, PRODUCED_AT) for p, o in RECORDS]
    frame = spark.createDataFrame(rows, KAFKA_SCHEMA)
    return {(r.partition, r.offset) for r in frame.where(not_yet_in(offsets)).collect()}


@pytest.mark.parametrize(
    "offsets",
    [
        {},  # nothing committed: everything is new
        {0: 3},  # partitions 1-3 are not in the ledger: they start at 0
        {0: 3, 1: 0, 2: 6, 3: 100},  # 6 = just past the last record; 100 = far past it
        {1: 5, 9: 2},  # a partition the batch does not have changes nothing
    ],
    ids=["empty", "one-partition", "every-partition", "unknown-partition"],
)
def test_not_yet_in_keeps_exactly_the_records_at_or_after_the_ledger(
    spark: SparkSession, offsets: Offsets
) -> None:
    expected = {(p, o) for p, o in RECORDS if o >= offsets.get(p, 0)}
    assert _kept(spark, offsets) == expected


def test_not_yet_in_is_exact_at_the_boundary(spark: SparkSession) -> None:
    kept = _kept(spark, {0: 2, 1: 2, 2: 2, 3: 2})
    # The ledger holds the *next* offset to take: offset 2 is new, offset 1 is already in.
    assert {(p, 2) for p in range(4)} <= kept
    assert not kept & {(p, 1) for p in range(4)}


# --- Spark's checkpoint ---------------------------------------------------------------------------


def _write_offsets(checkpoint: Path, batch_id: int, sources: dict[str, dict[str, int]]) -> None:
    """``offsets/<batch_id>`` as Spark writes it: version, batch metadata, one line per source."""
    metadata = {
        "batchWatermarkMs": 0,
        "batchTimestampMs": 1_767_355_200_000 + batch_id,
        "conf": {"spark.sql.shuffle.partitions": "1", "spark.sql.streaming.stateStore.providerClass": "x"},
    }
    folder = checkpoint / "offsets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(batch_id)).write_text(f"v1\n{json.dumps(metadata)}\n{json.dumps(sources)}")
    (folder / f".{batch_id}.crc").write_bytes(b"crc\x00\x01")


def _write_commit(checkpoint: Path, batch_id: int) -> None:
    folder = checkpoint / "commits"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(batch_id)).write_text('v1\n{"nextBatchWatermarkMs":0}')
    (folder / f".{batch_id}.crc").write_bytes(b"crc\x00\x01")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    root = tmp_path / "checkpoints" / TOPIC / "cdr"
    root.mkdir(parents=True)
    (root / "metadata").write_text('{"id":"0f5e6a1c-2b8d-4c1e-9a77-3d2f1e0b9c88"}')
    return root


def test_batch_end_offsets_reads_the_topics_line(checkpoint: Path) -> None:
    _write_offsets(checkpoint, 0, {TOPIC: {"0": 123, "1": 45}})
    assert batch_end_offsets(checkpoint, 0, TOPIC) == {0: 123, 1: 45}


def test_batch_end_offsets_ignores_other_topics(checkpoint: Path) -> None:
    _write_offsets(checkpoint, 4, {"other": {"0": 999, "2": 7}, TOPIC: {"1": 45, "0": 123}})
    assert batch_end_offsets(checkpoint, 4, TOPIC) == {0: 123, 1: 45}
    assert batch_end_offsets(checkpoint, 4, "other") == {0: 999, 2: 7}
    assert batch_end_offsets(checkpoint, 4, "absent") == {}


def test_batch_end_offsets_reads_the_batch_asked_for(checkpoint: Path) -> None:
    for batch_id in range(3):
        _write_offsets(checkpoint, batch_id, {TOPIC: {"0": 100 * (batch_id + 1)}})
    assert [batch_end_offsets(checkpoint, b, TOPIC) for b in range(3)] == [{0: 100}, {0: 200}, {0: 300}]


def test_a_batch_not_planned_yet_is_an_error(checkpoint: Path) -> None:
    _write_offsets(checkpoint, 0, {TOPIC: {"0": 1}})
    with pytest.raises(FileNotFoundError):
        batch_end_offsets(checkpoint, 1, TOPIC)


def test_no_commit_yet_means_nothing_processed(checkpoint: Path) -> None:
    assert processed_offsets(checkpoint, TOPIC) == {}  # no commits folder at all
    _write_offsets(checkpoint, 0, {TOPIC: {"0": 50}})  # batch 0 planned, still running
    (checkpoint / "commits").mkdir()
    (checkpoint / "commits" / ".0.crc").write_bytes(b"")  # debris, not a commit
    assert processed_offsets(checkpoint, TOPIC) == {}


def test_the_highest_committed_batch_wins(checkpoint: Path) -> None:
    # Numerically highest: batch 10 after batch 9 (not "9" > "10").
    for batch_id in (2, 9, 10, 11):
        _write_offsets(checkpoint, batch_id, {TOPIC: {"0": 1000 + batch_id, "1": batch_id}})
    for batch_id in (9, 2, 10):  # 11 is planned but not committed
        _write_commit(checkpoint, batch_id)
    assert processed_offsets(checkpoint, TOPIC) == {0: 1010, 1: 10}


def test_processed_offsets_ignore_other_topics(checkpoint: Path) -> None:
    _write_offsets(checkpoint, 0, {"other": {"0": 999}, TOPIC: {"0": 5}})
    _write_commit(checkpoint, 0)
    assert processed_offsets(checkpoint, TOPIC) == {0: 5}
    assert processed_offsets(checkpoint, "absent") == {}


# --- Lag ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "processed"),
    [
        ({}, {}),
        ({0: 10, 1: 5}, {}),
        ({0: 10, 1: 5}, {0: 10, 1: 5}),
        ({0: 10, 1: 5}, {0: 4}),
        ({0: 10, 1: 5}, {0: 20, 1: 0}),  # processed past the end (e.g. topic recreated)
        ({0: 0}, {0: 7, 3: 9}),  # partitions only in the processed ledger
    ],
)
def test_lag_counts_unprocessed_records_per_partition_and_is_never_negative(
    end: Offsets, processed: Offsets
) -> None:
    # The records up to the end offsets, less those a processed batch covered.
    produced = {(p, o) for p, offset in end.items() for o in range(offset)}
    covered = {(p, o) for p, offset in processed.items() for o in range(offset)}
    assert lag(end, processed) == len(produced - covered) >= 0


def test_lag_examples() -> None:
    assert lag({0: 10, 1: 5}, {0: 4}) == 6 + 5
    assert lag({0: 10, 1: 5}, {0: 20, 1: 0}) == 5  # partition 0 ahead does not offset partition 1
    assert lag({0: 10}, {0: 10}) == 0


def test_a_stream_batch_id_names_the_topic_and_end_offsets_in_partition_order() -> None:
    assert stream_batch_id("cdr", {1: 1180, 0: 1200}) == "cdr@0:1200,1:1180"
    assert stream_batch_id("cdr", {0: 5}) != stream_batch_id("cdr", {0: 6})
