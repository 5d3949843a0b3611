"""The CDR message contract (``core.contracts.cdr_message``) as Spark expressions.

A message is one strict JSON object (RFC 8259). Every field is first read as text, whatever its
JSON type, then checked and cast one by one: a message is rejected with the first reason found,
and nothing of it is lost (the quarantine keeps the raw bytes). The contract rejects every value
the write would refuse, so the casts of :func:`typed_columns` never fail on an accepted message:
one bad message goes to quarantine, it cannot stop the stream. The reasons, in checking order:

- ``invalid_json: not a JSON object``: not strict JSON (not UTF-8, single quotes, comments,
  bare ``NaN`` or ``Infinity``, a trailing comma, ...), JSON but not an object, or not one
  object alone: anything but whitespace after it, a second object included (it would be lost).
- ``duplicate_key: <name>``: a name twice in the object (its first 64 characters). Readers differ
  on which value counts (Spark keeps the last, others the first or fail): a check could pass on
  one value while another reader stores the other, so the message is ambiguous, not valid.
- ``missing_field: <field>``: ``schema_version`` or ``record_id`` absent or null.
- ``unsupported_schema_version: <version>``: another version (its first 64 characters).
- then field by field, in contract order:

  - ``too_long: <field>``: a text longer than the field's bound (``MAX_TEXT_BYTES``, UTF-8).
  - ``wrong_type: <field>``: not of the field's type: an object, an array or a number too large
    to be finite where text is due; a number that is not an integer; a boolean other than
    ``true``/``false``; a time that is not ISO-8601 with a zone, or not a real instant
    (30 February, 25:61, an offset of +99:00).
  - ``out_of_range: <field>``: an integer that does not fit the column (``cause_code`` is a
    smallint, ``duration_s`` an int, the byte counts bigints).

What the raw layer accepts is the raw contract (``core/contracts/raw_tables.py``): business
rules (unknown cells, impossible times, null subscriber) are the clean layer's job, so a
streamed row and a batch row of the same event are the same row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

from core.contracts.cdr_message import (
    MAX_TEXT_BYTES,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    TIMESTAMP_PATTERN,
    message_fields,
)
from core.contracts.raw_tables import CDR_EVENT_FIELDS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# Strict JSON whatever Spark's defaults (which accept single quotes, NaN and Infinity).
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowComments": "false",
    "allowUnquotedFieldNames": "false",
    "allowNumericLeadingZeros": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}
NOT_JSON = "invalid_json: not a JSON object"
# How a JSON value's text must look to be cast to the contract's type; whether the value fits
# (range, calendar) is the try-cast's answer.
_INTEGER = r"^-?[0-9]+$"
_PATTERNS = {
    pa.int16(): _INTEGER,
    pa.int32(): _INTEGER,
    pa.int64(): _INTEGER,
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
_SHOWN = 64  # characters of an unsupported version quoted in the reason
_TEXT_FIELDS = [f.name for f in CDR_EVENT_FIELDS if pa.types.is_string(f.type)]


def _schema(names: list[str], type_: str) -> str:
    return ", ".join(f"`{name}` {type_}" for name in names)


def _typed(value: Column, type_: pa.DataType) -> Column:
    """The text cast to the column's type: null, never an error, when it does not fit (a try-cast
    behaves the same whether the session is ANSI or not)."""
    spark_type = _SPARK_TYPES[type_]
    return value if spark_type == "string" else value.try_cast(spark_type)


def parse_time(text: Column) -> Column:
    """A contract time (ISO-8601 with a zone, a real instant) as a timestamp; null otherwise."""
    return F.when(text.rlike(TIMESTAMP_PATTERN), text.try_cast("timestamp"))


def _one_object(text: Column) -> tuple[Column, Column]:
    """(parsed, alone): ``text`` parsed as the elements of a JSON array (``[text]``), and whether,
    given one element parsed, nothing follows it.

    Spark's parser stops at the end of the first value and ignores the rest: ``{..} trailing``
    would pass, and of ``{..}{..}`` the second object would be lost. Inside ``[text]`` anything
    after the object but ``,`` or ``]`` is a syntax error, and a ``,`` adds an element; only a
    ``]`` can end the array early, so a text with one is parsed once more as ``{"k": text}``,
    where a ``]`` after the object is a syntax error (a code-generated parse: one ``from_json``
    among the checks would take them all out of whole-stage code generation, twice as slow).
    """
    fields = _schema([name for name, _ in message_fields()], "string")
    parsed = F.from_json(F.concat(F.lit("["), text, F.lit("]")), f"array<struct<{fields}>>", JSON_OPTIONS)
    in_object = F.json_object_keys(F.concat(F.lit('{"k":'), text, F.lit("}")))
    return parsed, ~text.contains("]") | in_object.isNotNull()


def _suspect(value: Column) -> Column:
    """Whether a text field's text may be an object, an array or a non-finite number: Spark reads
    those as their JSON text (``{"a":1}``, ``[1]``, ``"Infinity"`` for ``1e400``)."""
    return F.ascii(value).isin(ord("{"), ord("["), ord('"'))


def _shapes(fields: Column, text: Column) -> Column:
    """The text fields' JSON values (variants), read again for the rare message where one is
    suspect (all null when it cannot be read so: a duplicated name); null for the others."""
    any_suspect = F.lit(False)
    for name in _TEXT_FIELDS:
        any_suspect = any_suspect | _suspect(fields[name])
    schema = f"struct<{_schema(_TEXT_FIELDS, 'variant')}>"
    unreadable = F.struct(*(F.lit(None).cast("variant").alias(name) for name in _TEXT_FIELDS))
    return F.when(any_suspect, F.coalesce(F.try_variant_get(F.try_parse_json(text), "$", schema), unreadable))


def _not_text(fields: Column, shapes: Column) -> Column:
    """The first text field whose value is not a JSON string, or null."""
    not_string = [
        F.when(
            _suspect(fields[name]) & F.coalesce(F.schema_of_variant(shapes[name]) != "STRING", F.lit(True)),
            F.lit(name),
        )
        for name in _TEXT_FIELDS
    ]
    return F.when(shapes.isNotNull(), F.coalesce(*not_string))


def _field_checks(fields: Column, not_text: Column) -> list[tuple[Column, str]]:
    checks: list[tuple[Column, str]] = []
    for field in CDR_EVENT_FIELDS:
        name, value = field.name, fields[field.name]
        if pa.types.is_string(field.type):
            checks.append((F.octet_length(value) > MAX_TEXT_BYTES[name], f"too_long: {name}"))
            checks.append((not_text == name, f"wrong_type: {name}"))
            continue
        checks.append((~value.rlike(_PATTERNS[field.type]), f"wrong_type: {name}"))
        unfit = "out_of_range" if pa.types.is_integer(field.type) else "wrong_type"
        checks.append((value.isNotNull() & _typed(value, field.type).isNull(), f"{unfit}: {name}"))
    return checks


def _names(fields: Column, text: Column) -> Column:
    """The object's names as written, repeats kept (escapes decoded: ``"\\u0061pn"`` is ``apn``);
    null when it is not one JSON object."""
    return F.when(fields.isNotNull(), F.json_object_keys(text))


def _first_repeat(names: Column) -> Column:
    """The first name of ``names`` seen before it, or null when every name is unique."""
    repeated = F.filter(names, lambda name, i: F.array_position(names, name) != i + 1)
    return F.when(F.size(F.array_distinct(names)) < F.size(names), repeated[0])


def rejection_reason(fields: Column, not_text: Column, names: Column) -> Column:
    """Why a message is rejected, or null when it is valid: ``fields`` is its text per field
    (null when it is not one JSON object), ``not_text`` the first text field whose value is not a
    JSON string, ``names`` the object's names, repeats kept (:func:`_names`)."""
    version = fields["schema_version"]
    repeat = _first_repeat(names)
    checks: list[tuple[Column, Column | str]] = [
        (fields.isNull(), NOT_JSON),
        (repeat.isNotNull(), F.concat(F.lit("duplicate_key: "), F.substring(repeat, 1, _SHOWN))),
        *((fields[name].isNull(), f"missing_field: {name}") for name in REQUIRED_FIELDS),
        (
            version != F.lit(str(SCHEMA_VERSION)),
            F.concat(F.lit("unsupported_schema_version: "), F.substring(version, 1, _SHOWN)),
        ),
        *_field_checks(fields, not_text),
    ]
    # The first reason found: coalesce evaluates its arguments in order and stops at a non-null.
    return F.coalesce(*(F.when(condition, message) for condition, message in checks))


def typed_columns(fields: Column, valid: Column) -> list[Column]:
    """The raw contract's event columns cast from the message text where ``valid``, else null.

    The same try-casts the contract checks: on an accepted message none of them is null where
    the text is not, and on any message none of them raises."""
    return [F.when(valid, _typed(fields[f.name], f.type)).alias(f.name) for f in CDR_EVENT_FIELDS]


def event_column_names() -> list[str]:
    return [f.name for f in CDR_EVENT_FIELDS]


def parse(messages: DataFrame) -> DataFrame:
    """Kafka records -> one row each with ``fields`` (text), ``reason`` and the source coordinates.

    In steps, each a projection of its own (each step's column is used several times by the
    next, so Spark keeps them apart): the checks of one projection are compiled into one Java
    method, and past 8 kB of bytecode the JVM no longer compiles it to native code (measured
    3 to 4 times slower).
    """
    text = F.col("value").cast("string")
    parsed, alone = _one_object(text)
    elements = F.col("_elements")
    # JSON text is UTF-8 (RFC 8259): the parser would read a bad byte as U+FFFD, silently.
    one_object = (F.size(elements) == 1) & elements[0].isNotNull() & alone & F.is_valid_utf8(text)
    fields = F.col("fields")
    steps = (
        messages.select(
            "key", "value", "topic", "partition", "offset", "timestamp", parsed.alias("_elements")
        )
        .withColumn("fields", F.when(one_object, elements[0]))
        .withColumn("_shapes", _shapes(fields, text))
        .withColumn("_not_text", _not_text(fields, F.col("_shapes")))
        .withColumn("_names", _names(fields, text))
    )
    reason = rejection_reason(fields, F.col("_not_text"), F.col("_names"))
    return steps.withColumn("reason", reason).drop("_elements", "_shapes", "_not_text", "_names")
