"""The CDR message contract (``core.contracts.cdr_message``) as Spark expressions.

Every field is first read as text, whatever its JSON type, then checked and cast one by one:
a message is rejected with the first reason found, and nothing of it is lost (the quarantine
keeps the raw bytes). What the raw layer accepts is the raw contract (``core/contracts/raw_tables.py``):
business rules (unknown cells, impossible times, null subscriber) are the clean layer's job, so a
streamed row and a batch row of the same event are the same row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

from core.contracts.cdr_message import REQUIRED_FIELDS, SCHEMA_VERSION, TIMESTAMP_PATTERN, message_fields
from core.contracts.raw_tables import CDR_EVENT_FIELDS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

CORRUPT = "_corrupt_record"
# How a JSON value's text must look to be cast to the contract's type.
_PATTERNS = {
    pa.int16(): r"^-?[0-9]{1,5}$",
    pa.int32(): r"^-?[0-9]{1,10}$",
    pa.int64(): r"^-?[0-9]{1,19}$",
    pa.bool_(): r"^(true|false)$",
    pa.timestamp("us", tz="UTC"): TIMESTAMP_PATTERN,
}
_SPARK_TYPES = {
    pa.string(): "string",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
    pa.timestamp("us", tz="UTC"): "timestamp",
}


def _text_schema() -> str:
    names = [name for name, _ in message_fields()]
    return ", ".join(f"`{name}` string" for name in [*names, CORRUPT])


def rejection_reason(fields: Column) -> Column:
    """Why a parsed message is rejected, or null when it is valid (first reason wins)."""
    checks: list[tuple[Column, Column]] = [
        (fields.isNull() | fields[CORRUPT].isNotNull(), F.lit("invalid_json: not a JSON object")),
    ]
    for name in REQUIRED_FIELDS:
        checks.append((fields[name].isNull(), F.lit(f"missing_field: {name}")))
    checks.append(
        (
            fields["schema_version"] != F.lit(str(SCHEMA_VERSION)),
            F.concat(F.lit("unsupported_schema_version: "), fields["schema_version"]),
        )
    )
    for name, type_ in message_fields():
        pattern = _PATTERNS.get(type_)
        if pattern is not None:
            value = fields[name]
            checks.append((value.isNotNull() & ~value.rlike(pattern), F.lit(f"wrong_type: {name}")))
    reason = F.lit(None).cast("string")
    for condition, message in reversed(checks):
        reason = F.when(condition, message).otherwise(reason)
    return reason


def typed_columns(fields: Column, valid: Column) -> list[Column]:
    """The raw contract's event columns cast from the message text where ``valid`` (else null:
    under ANSI casts, text of the wrong type would raise rather than quarantine)."""
    return [F.when(valid, fields[f.name].cast(_SPARK_TYPES[f.type])).alias(f.name) for f in CDR_EVENT_FIELDS]


def event_column_names() -> list[str]:
    return [f.name for f in CDR_EVENT_FIELDS]


def parse(messages: DataFrame) -> DataFrame:
    """Kafka records -> one row each with ``fields`` (text), ``reason`` and the source coordinates."""
    fields = F.from_json(
        F.col("value").cast("string"),
        _text_schema(),
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT},
    )
    parsed = messages.select(
        "key", "value", "topic", "partition", "offset", "timestamp", fields.alias("fields")
    )
    return parsed.withColumn("reason", rejection_reason(F.col("fields")))
