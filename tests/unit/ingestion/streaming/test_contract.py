"""The CDR message contract in Spark: valid messages typed exactly, every bad one rejected with why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from core.contracts.cdr_message import REQUIRED_FIELDS, SCHEMA_VERSION, message_fields
from core.contracts.raw_tables import CDR_EVENT_FIELDS, CDR_EVENT_SCHEMA
from generator.config import load_config
from generator.run import Generation
from ingestion.kafka_sink import event_messages
from ingestion.streaming.contract import event_column_names, parse, typed_columns
from tests.unit.ingestion.streaming.judging import INVALID_JSON, TIME_FIELDS, Judged, expected, judge, micros
from tests.unit.ingestion.streaming.kafka_records import MISSING, VALID_EVENT, kafka_records, message

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# --- Valid messages -------------------------------------------------------------------------------

EDGE_EVENTS = [
    # Type limits, written by the producer as plain JSON numbers.
    {
        "record_id": "limits-max",
        "record_type": "data",
        "start_time": datetime(2026, 1, 2, 0, 0, 0, 1, tzinfo=UTC),
        "end_time": datetime(2026, 1, 2, 23, 59, 59, 999999, tzinfo=UTC),
        "duration_s": 2**31 - 1,
        "cause_code": 2**15 - 1,
        "bytes_up": 2**63 - 1,
        "bytes_down": 0,
        "roaming": True,
    },
    {
        "record_id": "limits-min",
        "record_type": "voice",
        "start_time": datetime(1969, 7, 20, 20, 17, 40, 500000, tzinfo=UTC),
        "end_time": datetime(1970, 1, 1, tzinfo=UTC),
        "duration_s": -(2**31),
        "cause_code": -(2**15),
        "bytes_up": -(2**63),
        "bytes_down": -1,
        "roaming": False,
    },
    # Text the producer must escape, and text beyond ASCII.
    {
        "record_id": 'quote"back\\slash',
        "served_msisdn": "tab\tnew\nline\rcr",
        "other_party": "nul\x00unit\x1fbell\x07",
        "network_element_id": "CELL-é-中文-😀-الجزائر",
        "apn": "internet.\u200b\ufeffzero-width",
        "direction": "MT",
    },
    # Everything but the record id null: nulls are the clean layer's problem, not the contract's.
    {"record_id": "only-an-id"},
]


@pytest.fixture(scope="module")
def produced(spark: SparkSession) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], list[Any]]:
    """Events as the producer writes them (generated ones, then edge cases): rows, typed, reasons."""
    generated = next(b for b, _ in Generation(load_config(days=1, subscribers=300, seed=11)).batches())
    edges = pa.Table.from_pylist(EDGE_EVENTS, schema=pa.schema(CDR_EVENT_FIELDS)).cast(CDR_EVENT_SCHEMA)
    batches = [generated.slice(0, 400), *edges.to_batches()]
    rows, keys, values = [], [], []
    for batch in batches:
        batch_keys, batch_values = event_messages(batch)
        rows += batch.to_pylist()
        keys += batch_keys
        values += batch_values
    judged = judge(parse(kafka_records(spark, values, keys)))
    return rows, {i: typed for i, (_, typed) in judged.items()}, [judged[i][0] for i in range(len(rows))]


def test_every_produced_event_passes_the_contract(produced: tuple) -> None:
    rows, _, reasons = produced
    assert len(reasons) == len(rows) > 400
    rejected = {i: reason for i, reason in enumerate(reasons) if reason is not None}
    assert not rejected


def test_typed_columns_round_trip_every_produced_value(produced: tuple) -> None:
    rows, typed, _ = produced
    assert len(typed) == len(rows)
    for offset, row in enumerate(rows):
        assert typed[offset] == expected(row), offset


def test_typed_columns_follow_the_raw_contract(spark: SparkSession) -> None:
    parsed = parse(kafka_records(spark, [message()]))
    typed = parsed.select(*typed_columns(F.col("fields"), F.col("reason").isNull()))
    spark_types = {f.name: f.dataType.simpleString() for f in typed.schema.fields}
    expected = {
        pa.string(): "string",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.bool_(): "boolean",
        pa.timestamp("us", tz="UTC"): "timestamp",
    }
    assert spark_types == {f.name: expected[f.type] for f in CDR_EVENT_FIELDS}
    assert event_column_names() == [f.name for f in CDR_EVENT_FIELDS]


def test_parse_keeps_the_source_coordinates(spark: SparkSession) -> None:
    values = [message(record_id=f"r-{i}") for i in range(3)] + [b"garbage"]
    keys = [b"k0", None, "é".encode(), b"\x00\xff"]
    parsed = parse(kafka_records(spark, values, keys, partition=7)).orderBy("offset").collect()
    assert [(r.key, r.value, r.topic, r.partition, r.offset) for r in parsed] == [
        (k, v, "cdr", 7, i) for i, (k, v) in enumerate(zip(keys, values, strict=True))
    ]
    assert [r.reason for r in parsed] == [None, None, None, INVALID_JSON]


# Hand-written messages: label -> (value, expected reason or None when valid).
CASES: dict[str, tuple[bytes | None, str | None]] = {
    # Valid, however they are spelled.
    "complete": (message(), None),
    "only the required fields": (json.dumps({"schema_version": 1, "record_id": "x"}).encode(), None),
    "optional fields null": (message(**{f.name: None for f in CDR_EVENT_FIELDS[1:]}), None),
    "unknown fields ignored": (message(extra="x", nested={"a": [1, 2]}, schema_v2_field=None), None),
    "schema_version as text": (message(schema_version="1"), None),
    "numbers as text": (message(duration_s="90", cause_code="-16", bytes_up="12"), None),
    "booleans as text": (message(roaming="true"), None),
    "time with an offset": (message(start_time="2026-01-02T11:15:30+01:00"), None),
    "time with a negative offset": (message(end_time="2026-01-01T23:00:00.5-03:30"), None),
    "unicode and escaped controls": (
        message(record_id="r-é中😀", other_party="\x01\x1f\t\n", apn='a\\b"c'),
        None,
    ),
    "pretty-printed": (json.dumps({**VALID_EVENT, "record_id": "pp"}, indent=2).encode(), None),
    # Not a JSON object.
    "not JSON": (b"not json", INVALID_JSON),
    "empty": (b"", INVALID_JSON),
    "tombstone (null value)": (None, INVALID_JSON),
    "truncated": (message()[:-1], INVALID_JSON),
    "JSON array of a message": (b"[" + message() + b"]", INVALID_JSON),
    "JSON array of numbers": (b"[1, 2]", INVALID_JSON),
    "JSON string": (b'"{\\"schema_version\\": 1}"', INVALID_JSON),
    "JSON number": (b"1", INVALID_JSON),
    "JSON null": (b"null", INVALID_JSON),
    "trailing comma": (b'{"schema_version": 1, "record_id": "x",}', INVALID_JSON),
    "unquoted names": (b'{schema_version: 1, record_id: "x"}', INVALID_JSON),
    "leading zeros": (message(duration_s=MISSING)[:-1] + b', "duration_s": 007}', INVALID_JSON),
    "unknown escape": (b'{"schema_version": 1, "record_id": "a\\qb"}', INVALID_JSON),
    "unescaped control character": (b'{"schema_version": 1, "record_id": "a\nb"}', INVALID_JSON),
    "not UTF-8": (b"\xff\xfe" + message(), INVALID_JSON),
    # Missing what tells messages apart.
    "empty object": (b"{}", "missing_field: schema_version"),
    "no record_id": (message(record_id=MISSING), "missing_field: record_id"),
    "null record_id": (message(record_id=None), "missing_field: record_id"),
    "no schema_version": (message(schema_version=MISSING), "missing_field: schema_version"),
    "null schema_version": (message(schema_version=None), "missing_field: schema_version"),
    "neither (first wins)": (
        message(schema_version=MISSING, record_id=MISSING),
        f"missing_field: {REQUIRED_FIELDS[0]}",
    ),
    # Another version of the format.
    "schema_version 2": (message(schema_version=2), "unsupported_schema_version: 2"),
    "schema_version '2'": (message(schema_version="2"), "unsupported_schema_version: 2"),
    "schema_version 0": (message(schema_version=0), "unsupported_schema_version: 0"),
    "schema_version 1.0": (message(schema_version=1.0), "unsupported_schema_version: 1.0"),
    "version beats a wrong type": (
        message(schema_version=2, duration_s="ten"),
        "unsupported_schema_version: 2",
    ),
    "missing id beats a wrong type": (message(record_id=None, roaming="yes"), "missing_field: record_id"),
    # Values of the wrong type.
    "text in an int": (message(duration_s="ten"), "wrong_type: duration_s"),
    "float in an int": (message(duration_s=1.5), "wrong_type: duration_s"),
    "exponent in an int": (message(duration_s=1e3), "wrong_type: duration_s"),
    "blank in an int": (message(cause_code=""), "wrong_type: cause_code"),
    "padded int": (message(cause_code=" 16"), "wrong_type: cause_code"),
    "object in an int": (message(cause_code={"code": 16}), "wrong_type: cause_code"),
    "list in an int": (message(bytes_down=[1]), "wrong_type: bytes_down"),
    "too many digits for a bigint": (message(bytes_up=10**19), "out_of_range: bytes_up"),
    "'yes' for a boolean": (message(roaming="yes"), "wrong_type: roaming"),
    "1 for a boolean": (message(roaming=1), "wrong_type: roaming"),
    "capitalised boolean": (message(roaming="True"), "wrong_type: roaming"),
    "time without a zone": (message(start_time="2026-01-02T10:15:30"), "wrong_type: start_time"),
    "time with a space": (message(start_time="2026-01-02 10:15:30Z"), "wrong_type: start_time"),
    "date only": (message(end_time="2026-01-02"), "wrong_type: end_time"),
    "epoch seconds for a time": (message(end_time=1767348900), "wrong_type: end_time"),
    "nanoseconds": (message(end_time="2026-01-02T10:17:00.123456789Z"), "wrong_type: end_time"),
    "first wrong field in contract order wins": (
        message(roaming="no", cause_code="x", start_time="noon"),
        "wrong_type: start_time",
    ),
}


@pytest.fixture(scope="module")
def judged(spark: SparkSession) -> dict[str, Judged]:
    """Every case parsed in one DataFrame: label -> (reason, typed columns)."""
    labels = list(CASES)
    judged = judge(parse(kafka_records(spark, [CASES[label][0] for label in labels])))
    return {label: judged[i] for i, label in enumerate(labels)}


@pytest.mark.parametrize("label", list(CASES))
def test_reason(label: str, judged: dict) -> None:
    assert judged[label][0] == CASES[label][1]


def test_the_wrong_type_cases_cover_every_checked_type() -> None:
    checked = {n for n, t in message_fields() if not pa.types.is_string(t)} - {"schema_version"}
    reasons = {reason for _, reason in CASES.values() if reason and reason.startswith("wrong_type")}
    covered = {reason.removeprefix("wrong_type: ") for reason in reasons}
    types = dict(message_fields())
    assert {types[name] for name in covered} == {types[name] for name in checked}


@pytest.mark.parametrize("label", [label for label, (_, reason) in CASES.items() if reason is not None])
def test_rejected_messages_get_no_typed_values(label: str, judged: dict) -> None:
    _, typed = judged[label]
    assert {k: v for k, v in typed.items() if v is not None} == {}


def test_valid_messages_are_typed_as_written(judged: dict) -> None:
    complete = judged["complete"][1]
    for field in CDR_EVENT_FIELDS:
        written = VALID_EVENT[field.name]
        expected = micros(written) if field.name in TIME_FIELDS else written
        assert complete[field.name] == expected, field.name
    assert judged["numbers as text"][1] == complete | {"duration_s": 90, "cause_code": -16, "bytes_up": 12}
    assert judged["booleans as text"][1] == complete | {"roaming": True}
    assert judged["unknown fields ignored"][1] == complete
    assert judged["optional fields null"][1] == {f.name: None for f in CDR_EVENT_FIELDS} | {
        "record_id": VALID_EVENT["record_id"]
    }
    only = judged["only the required fields"][1]
    assert {k: v for k, v in only.items() if v is not None} == {"record_id": "x"}


def test_times_become_the_same_utc_instant_whatever_their_offset(judged: dict) -> None:
    start = judged["time with an offset"][1]["start_time"]
    assert start == micros(datetime(2026, 1, 2, 10, 15, 30, tzinfo=UTC))
    end = judged["time with a negative offset"][1]["end_time"]
    assert end == micros(datetime(2026, 1, 2, 2, 30, 0, 500000, tzinfo=UTC))


def test_unicode_and_control_characters_survive(judged: dict) -> None:
    typed = judged["unicode and escaped controls"][1]
    assert (typed["record_id"], typed["other_party"], typed["apn"]) == ("r-é中😀", "\x01\x1f\t\n", 'a\\b"c')


def test_the_contract_is_version_1() -> None:
    # The expected reasons above are written for version 1.
    assert SCHEMA_VERSION == 1
    assert REQUIRED_FIELDS == ("schema_version", "record_id")


# --- Strict JSON: Spark's lenient defaults and its parser stopping after the first value -----------

# Each was accepted before issue 12; of two messages in one record, the second was lost.
NOT_JSON = {
    "single quotes": b"{'schema_version': 1, 'record_id': 'x'}",
    "text after the object": message() + b" trailing",
    "two objects in one record": message() + message(record_id="second"),
    "a comment after the object": message() + b" // comment",
    "bare NaN": b'{"schema_version": 1, "record_id": NaN}',
}


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.fixture(scope="module")
def not_json_reasons(spark: SparkSession) -> dict[str, str | None]:
    judged = judge(parse(kafka_records(spark, list(NOT_JSON.values()))))
    return {label: judged[i][0] for i, label in enumerate(NOT_JSON)}


@pytest.mark.parametrize("label", list(NOT_JSON))
def test_the_not_json_cases_are_not_json(label: str) -> None:
    with pytest.raises(ValueError):  # Python's parser is the reference, NaN and Infinity refused (RFC 8259)
        json.loads(NOT_JSON[label], parse_constant=_refuse)


@pytest.mark.parametrize("label", list(NOT_JSON))
def test_text_that_is_not_json_is_rejected(label: str, not_json_reasons: dict[str, str | None]) -> None:
    assert not_json_reasons[label] == INVALID_JSON


# --- Issue 12: text that matches a type's pattern but not its range -------------------------------

# Each passed the contract, then the ANSI cast in typed_columns raised: the micro-batch failed and
# was retried forever. (field, value, reason)
OUT_OF_RANGE = {
    "smallint over 32767": ("cause_code", 99999, "out_of_range"),
    "smallint under -32768": ("cause_code", -40000, "out_of_range"),
    "int over 2^31-1": ("duration_s", 9_999_999_999, "out_of_range"),
    "bigint over 2^63-1": ("bytes_up", 9_223_372_036_854_775_808, "out_of_range"),
    "30 February": ("start_time", "2026-02-30T10:00:00Z", "wrong_type"),
    "month 13": ("start_time", "2026-13-01T00:00:00Z", "wrong_type"),
    "25:61": ("end_time", "2026-01-02T25:61:00Z", "wrong_type"),
}


@pytest.fixture(scope="module")
def out_of_range_reasons(spark: SparkSession) -> dict[str, str | None]:
    values = [message(**{field: value}) for field, value, _ in OUT_OF_RANGE.values()]
    reasons = parse(kafka_records(spark, values)).select("offset", "reason").collect()
    return {label: dict(reasons)[i] for i, label in enumerate(OUT_OF_RANGE)}


@pytest.mark.parametrize("label", list(OUT_OF_RANGE))
def test_out_of_range_values_are_quarantined_not_fatal(
    label: str, spark: SparkSession, out_of_range_reasons: dict[str, str | None]
) -> None:
    field, value, reason = OUT_OF_RANGE[label]
    assert out_of_range_reasons[label] == f"{reason}: {field}"
    # And a batch holding it is still typed: one bad message cannot stop the stream.
    judged = judge(parse(kafka_records(spark, [message(), message(record_id="bad", **{field: value})])))
    assert judged[0] == (None, judged[0][1])
    assert judged[0][1]["record_id"] == VALID_EVENT["record_id"]
    assert judged[1] == (f"{reason}: {field}", dict.fromkeys(event_column_names()))
