"""The CDR message contract on Kafka (JSON, schema version 1) as Spark expressions.

Every field is first read as text, whatever its JSON type, then checked and cast one by one:
a message is rejected with the first reason found, and nothing of it is lost (the quarantine
keeps the raw bytes). What the raw layer accepts is the raw contract (``generator/schema.py``):
business rules (unknown cells, impossible times, null subscriber) are the clean layer's job, so a
streamed row and a batch row of the same event are the same row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

from generator.schema import CDR_EVENT_FIELDS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SCHEMA_VERSION = 1
CORRUPT = "_corrupt_record"
# Without these a row cannot be told apart or interpreted at all.
REQUIRED = ("schema_version", "record_id")

# ISO-8601 with a zone, as the producer writes it: 2026-01-02T13:09:25.345145Z
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
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


def message_fields() -> list[tuple[str, pa.DataType]]:
    """(name, type) of every field of a version-1 message, in contract order."""
    return [("schema_version", pa.int32()), *((f.name, f.type) for f in CDR_EVENT_FIELDS)]


def _text_schema() -> str:
    names = [name for name, _ in message_fields()]
    return ", ".join(f"`{name}` string" for name in [*names, CORRUPT])


def rejection_reason(fields: Column) -> Column:
    """Why a parsed message is rejected, or null when it is valid (first reason wins)."""
    checks: list[tuple[Column, Column]] = [
        (fields.isNull() | fields[CORRUPT].isNotNull(), F.lit("invalid_json: not a JSON object")),
    ]
    for name in REQUIRED:
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
