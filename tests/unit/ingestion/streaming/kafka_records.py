"""Kafka-shaped DataFrames and hand-written CDR messages for the streaming job's unit tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The columns of Spark's Kafka source that the job reads.
KAFKA_SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
TOPIC = "cdr"
PRODUCED_AT = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

# A complete, valid version-1 message (README "CDR messages"), written by hand.
VALID_EVENT: dict[str, Any] = {
    "schema_version": 1,
    "record_id": "r-000001",
    "record_type": "voice",
    "served_msisdn": "213550000001",
    "served_imsi": "603010000000001",
    "served_imei": "356938035643809",
    "other_party": "213660000002",
    "direction": "MO",
    "start_time": "2026-01-02T10:15:30.123456Z",
    "end_time": "2026-01-02T10:17:00Z",
    "duration_s": 90,
    "network_element_id": "CELL-ALG-0001",
    "result": "answered",
    "cause_code": 16,
    "bytes_up": None,
    "bytes_down": None,
    "apn": None,
    "roaming": False,
}
MISSING = object()  # a field left out of the message


def message(**fields: Any) -> bytes:
    """VALID_EVENT with ``fields`` replaced (MISSING drops one), as JSON bytes."""
    event = {**VALID_EVENT, **fields}
    return json.dumps({k: v for k, v in event.items() if v is not MISSING}, ensure_ascii=False).encode()


def kafka_records(
    spark: SparkSession,
    values: Sequence[bytes | None],
    keys: Sequence[bytes | None] | None = None,
    partition: int = 0,
) -> DataFrame:
    """One Kafka record per value, at offsets 0.. of ``partition``."""
    keys = keys if keys is not None else [None] * len(values)
    rows = [
        (key, value, TOPIC, partition, offset, PRODUCED_AT)
        for offset, (key, value) in enumerate(zip(keys, values, strict=True))
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)
