"""Arrow columns as BI tools read them: flat, microsecond, plain text in CSV (:mod:`app.bi_export`).

Power BI, Excel and most file tools read flat tables of scalar columns, so every column is made
one (:func:`flatten_batch`):

- a struct becomes one column per field, named ``parent.child`` (nulls of the parent carried);
- a list or map becomes JSON text (Power Query: ``Json.Document``);
- timestamps are microseconds (Iceberg's own unit; nanoseconds are truncated), time-zoned ones in
  UTC; times are microseconds; large and view strings are strings; dictionaries are their values;
- binary is lowercase hex text and UUIDs their canonical text, which CSV can hold as UTF-8.

The Parquet file has exactly these types. The CSV file writes the same columns as text that
reads the same in every locale (:func:`csv_batch`, :data:`CSV_CONVENTIONS`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.exceptions import ExportError

# What the CSV text of each kind of column looks like; also written into the manifest.
CSV_CONVENTIONS: dict[str, str] = {
    "encoding": "UTF-8 with a byte-order mark (so Excel reads it as UTF-8)",
    "delimiter": ",",
    "header": "first line: the column names",
    "quoting": "text, timestamps and decimals quoted, a quote inside doubled (RFC 4180)",
    "null": 'an empty unquoted field (an empty text is "")',
    "timestamp with time zone": "ISO-8601 in UTC with its offset: 2025-12-31T23:00:00.000000+00:00",
    "timestamp": "ISO-8601 without offset: 2025-12-31T23:00:00.000000",
    "date": "ISO-8601: 2025-12-31",
    "decimal": "plain digits with the scale's decimals and a '.' separator, never an exponent",
    "floating point": "the shortest text that reads back the same double, '.' separator (1.5e+20)",
    "boolean": "true / false",
}

_UTC = "UTC"


def flatten_batch(batch: pa.RecordBatch, schema: pa.Schema | None = None) -> pa.RecordBatch:
    """``batch`` with flat BI columns (module docstring). ``schema``, from :func:`export_schema`,
    checks the result has exactly those columns and types."""
    fields: list[pa.Field] = []
    arrays: list[pa.Array] = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        for flat_field, array in _flat_columns(field.name, column, field.nullable):
            fields.append(flat_field)
            arrays.append(array)
    names = [field.name for field in fields]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ExportError(f"flattening nested columns gives the same name twice: {', '.join(repeated)}")
    return pa.RecordBatch.from_arrays(arrays, schema=schema or pa.schema(fields))


def export_schema(schema: pa.Schema) -> pa.Schema:
    """The flat schema :func:`flatten_batch` gives batches of ``schema`` (derived by flattening an
    empty batch, so the two cannot disagree)."""
    empty = pa.RecordBatch.from_arrays([pa.nulls(0, field.type) for field in schema], schema=schema)
    return flatten_batch(empty).schema


def describe_schema(schema: pa.Schema) -> list[dict[str, Any]]:
    """Each column's name, Arrow type and nullability, for the manifest."""
    return [{"name": field.name, "type": str(field.type), "nullable": field.nullable} for field in schema]


def _flat_columns(name: str, array: pa.Array, nullable: bool) -> Iterator[tuple[pa.Field, pa.Array]]:
    data_type = array.type
    if pa.types.is_struct(data_type):
        # StructArray.flatten(), unlike .field(i), carries the struct's own nulls into its children.
        for index, child in enumerate(array.flatten()):
            child_field = data_type.field(index)
            yield from _flat_columns(f"{name}.{child_field.name}", child, nullable or child_field.nullable)
        return
    flat = _scalar(array)
    yield pa.field(name, flat.type, nullable), flat


def _scalar(array: pa.Array) -> pa.Array:
    """One scalar column as a type every BI tool reads (module docstring)."""
    data_type = array.type
    if pa.types.is_dictionary(data_type):
        return _scalar(array.dictionary_decode())
    if isinstance(data_type, pa.BaseExtensionType):
        if isinstance(data_type, pa.UuidType):
            return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())
        return _scalar(array.storage)
    if pa.types.is_timestamp(data_type):
        unit = pa.timestamp("us", tz=_UTC if data_type.tz else None)
        return array if data_type == unit else pc.cast(array, unit, safe=False)  # ns: truncated
    if pa.types.is_time(data_type):
        return array if data_type == pa.time64("us") else pc.cast(array, pa.time64("us"), safe=False)
    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pc.cast(array, pa.string())
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type) or _is_fixed_binary(data_type):
        return pa.array([None if v is None else v.hex() for v in array.to_pylist()], pa.string())
    if _is_nested(data_type):
        return pa.array([None if v is None else _json(v, data_type) for v in array.to_pylist()], pa.string())
    if pa.types.is_null(data_type):
        return pa.nulls(len(array), pa.string())
    return array


def _is_fixed_binary(data_type: pa.DataType) -> bool:
    return pa.types.is_fixed_size_binary(data_type) and not pa.types.is_decimal(data_type)


def _is_nested(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
        or pa.types.is_list_view(data_type)
        or pa.types.is_map(data_type)
    )


def _json(value: Any, data_type: pa.DataType) -> str:
    return json.dumps(_jsonable(value, data_type), ensure_ascii=False, separators=(",", ":"), default=str)


def _jsonable(value: Any, data_type: pa.DataType) -> Any:
    """A list's or map's Python value as JSON: a map with text keys is an object, otherwise a list
    of [key, value] pairs; dates, times and decimals become their text (``default=str``)."""
    if value is None:
        return None
    if pa.types.is_map(data_type):
        pairs = [(k, _jsonable(v, data_type.item_type)) for k, v in value]
        return dict(pairs) if pa.types.is_string(data_type.key_type) else [list(p) for p in pairs]
    if _is_nested(data_type):
        return [_jsonable(item, data_type.value_type) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` (flat) with the columns whose CSV text is ours rather than Arrow's as text
    (:data:`CSV_CONVENTIONS`); Arrow writes the others as they should read already."""
    fields, arrays = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        text = csv_text(column)
        fields.append(pa.field(field.name, text.type, field.nullable))
        arrays.append(text)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def csv_text(array: pa.Array) -> pa.Array:
    """Timestamps as ISO-8601 with a ``T`` (and, zoned, the UTC offset; Arrow writes a space and
    ``Z``), decimals without an exponent (Arrow writes ``0E-10``); every other column unchanged."""
    data_type = array.type
    if pa.types.is_timestamp(data_type):
        if data_type.tz:
            # Iceberg stores instants: UTC is their one reading, and the offset says so.
            utc = pc.cast(array, pa.timestamp(data_type.unit, tz=_UTC))
            return pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S+00:00")
        return pc.strftime(array, format="%Y-%m-%dT%H:%M:%S")  # %S has the unit's fraction
    if pa.types.is_decimal(data_type):
        return plain_decimals(array)
    return array


def plain_decimals(array: pa.Array) -> pa.Array:
    """Decimal values as plain text (``0.0000001``, ``0.0000000000``): Arrow's text switches to an
    exponent below 1e-6, which spreadsheets may take for text, so those values are rewritten."""
    text = pc.cast(array, pa.string())
    exponent = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(exponent).as_py():
        return text
    return pa.array(
        [v if v is None or "E" not in v else format(Decimal(v), "f") for v in text.to_pylist()], pa.string()
    )
