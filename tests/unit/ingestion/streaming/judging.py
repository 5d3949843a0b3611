"""The contract's verdict on Kafka records, collected: per offset, the reason and typed columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import functions as F

from core.contracts.raw_tables import CDR_EVENT_FIELDS
from ingestion.streaming.contract import event_column_names, typed_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

INVALID_JSON = "invalid_json: not a JSON object"
TIME_FIELDS = [f.name for f in CDR_EVENT_FIELDS if pa.types.is_timestamp(f.type)]
Judged = tuple[str | None, dict[str, Any]]  # (reason, typed event columns)


def micros(value: datetime | str | None) -> int | None:
    """A time as microseconds since the epoch (UTC instant)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert value.tzinfo is not None, value
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def judge(parsed: DataFrame) -> dict[int, Judged]:
    """Offset -> (reason, typed event columns) in one Spark job; times as epoch microseconds."""
    typed = parsed.select("offset", "reason", *typed_columns(F.col("fields"), F.col("reason").isNull()))
    columns = [F.unix_micros(c).alias(c) if c in TIME_FIELDS else F.col(c) for c in event_column_names()]
    rows = typed.select("offset", "reason", *columns).collect()
    return {row["offset"]: (row["reason"], {c: row[c] for c in event_column_names()}) for row in rows}


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """An event as the producer had it, in the form ``judge`` returns."""
    return {name: micros(value) if name in TIME_FIELDS else value for name, value in row.items()}
