"""The contract's bounds (issue 12): one strict JSON object, texts of a sane length and of JSON
type string, integers that fit their column, times that are real instants; whatever it accepts,
the write stores, whatever the session's ANSI setting."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pyspark.sql import functions as F

from core.contracts.cdr_message import MAX_TEXT_BYTES
from core.contracts.raw_tables import CDR_EVENT_FIELDS
from ingestion.streaming.contract import parse, typed_columns
from tests.unit.ingestion.streaming.judging import INVALID_JSON, Judged, judge, micros
from tests.unit.ingestion.streaming.kafka_records import VALID_EVENT, kafka_records, message

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TEXT_FIELDS = sorted(MAX_TEXT_BYTES)


def raw(**fields: str) -> bytes:
    """A valid message whose ``fields`` are written as the given raw JSON text."""
    event = {k: v for k, v in VALID_EVENT.items() if k not in fields}
    inner = json.dumps(event)[1:-1]
    return ("{" + inner + "".join(f', "{k}": {v}' for k, v in fields.items()) + "}").encode()


# label -> (value, expected reason or None when valid)
CASES: dict[str, tuple[bytes, str | None]] = {
    # One object alone, whitespace around it allowed.
    "whitespace around the object": (b" \n\t" + message() + b" \r\n", None),
    "a ']' inside a text": (message(record_id="a]b", apn="x]"), None),
    "arrays in an unknown field": (message(extra=[1, [2, {"a": [3]}]]), None),
    "braces inside texts": (message(other_party="}{", apn="{x"), None),
    "an object then ']'": (message() + b"]", INVALID_JSON),
    "an object then '] }'": (message() + b"] }", INVALID_JSON),
    "an object then '}'": (message() + b"}", INVALID_JSON),
    "an object then ','": (message() + b",", INVALID_JSON),
    "two objects and a comma": (message() + b"," + message(record_id="second"), INVALID_JSON),
    "two objects on two lines": (message() + b"\n" + message(record_id="second"), INVALID_JSON),
    "an object then null": (message() + b" null", INVALID_JSON),
    "a block comment after": (message() + b" /* c */", INVALID_JSON),
    "a hash comment after": (message() + b" # c", INVALID_JSON),
    "a comment inside": (b'{"schema_version": 1, /* c */ "record_id": "x"}', INVALID_JSON),
    "a single-quoted value": (b'{"schema_version": 1, "record_id": \'x\'}', INVALID_JSON),
    "bare Infinity in an int": (raw(duration_s="Infinity"), INVALID_JSON),
    "bare -Infinity in a text": (raw(apn="-Infinity"), INVALID_JSON),
    "bare NaN in an int": (raw(cause_code="NaN"), INVALID_JSON),
    "an empty array": (b"[]", INVALID_JSON),
    "an array of two messages": (b"[" + message() + b"," + message() + b"]", INVALID_JSON),
    "only whitespace": (b" \n ", INVALID_JSON),
    "a byte that is not UTF-8 in a text": (message(record_id="r-?").replace(b"r-?", b"r-\xff"), INVALID_JSON),
    "an encoded surrogate": (message(apn="x").replace(b'"x"', b'"\xed\xa0\x80"'), INVALID_JSON),
    # Texts: JSON strings (numbers and booleans read as their text, as before), of a sane length.
    "an object for a text": (message(record_type={"type": "voice"}), "wrong_type: record_type"),
    "an empty object for the record id": (message(record_id={}), "wrong_type: record_id"),
    "an array for a text": (message(apn=["internet"]), "wrong_type: apn"),
    "an overflowing number for a text": (raw(served_msisdn="1e400"), "wrong_type: served_msisdn"),
    "a negative overflowing number for a text": (raw(other_party="-1e999"), "wrong_type: other_party"),
    "a text spelling an object": (message(record_id='{"id": 1}'), None),
    "a text spelling an array": (message(apn="[internet]"), None),
    "a text spelling Infinity in quotes": (message(other_party='"Infinity"'), None),
    "a number for a text": (message(served_msisdn=213550000001), None),
    "first not-a-text field wins": (message(apn=[1], record_type={}), "wrong_type: record_type"),
    # A name twice: readers differ on which value counts, so the message is ambiguous.
    "a suspect text in a message with a duplicated name": (
        message()[:-1] + b', "apn": "{a", "apn": "{b"}',
        "duplicate_key: apn",
    ),
    "a field twice with valid values": (message()[:-1] + b', "apn": "internet"}', "duplicate_key: apn"),
    "the record id twice": (message()[:-1] + b', "record_id": "r-other"}', "duplicate_key: record_id"),
    "the version twice, the second unsupported": (
        message()[:-1] + b', "schema_version": 2}',
        "duplicate_key: schema_version",
    ),
    "a name twice, once escaped": (message()[:-1] + b', "\\u0061pn": "x"}', "duplicate_key: apn"),
    "an unknown name twice": (message(extra=1)[:-1] + b', "extra": 2}', "duplicate_key: extra"),
    "a duplicate before a missing id": (
        b'{"schema_version": 1, "schema_version": 1}',
        "duplicate_key: schema_version",
    ),
    "a name twice in a nested object is not ours to judge": (
        message(extra={"a": 1})[:-2] + b', "a": 2}}',
        None,
    ),
    "names that differ only in case": (message()[:-1] + b', "APN": "x"}', None),
    "UTF-8 bytes count, not characters": (message(apn="é" * 65), "too_long: apn"),
    "too long beats an object later": (message(record_id="r" * 257, apn={}), "too_long: record_id"),
    # Integers that fit their column, and only integers.
    "smallint min and max": (message(cause_code=-(2**15), duration_s=2**31 - 1), None),
    "int under -2^31": (message(duration_s=-(2**31) - 1), "out_of_range: duration_s"),
    "bigint under -2^63": (message(bytes_down=-(2**63) - 1), "out_of_range: bytes_down"),
    "a 1000-digit integer": (raw(bytes_up="9" * 1000), "out_of_range: bytes_up"),
    "a megabyte of digits as text": (message(duration_s="9" * 1_000_000), "out_of_range: duration_s"),
    "leading zeros in text": (message(cause_code="0007"), None),
    "minus zero": (message(cause_code=-0, duration_s="-0"), None),
    "a plus sign": (message(cause_code="+16"), "wrong_type: cause_code"),
    "a decimal for a bigint": (raw(bytes_up="1.0"), "wrong_type: bytes_up"),
    # Times that are real instants, with their zone.
    "29 February of a leap year": (message(start_time="2024-02-29T00:00:00Z"), None),
    "29 February of another year": (message(start_time="2023-02-29T00:00:00Z"), "wrong_type: start_time"),
    "31 April": (message(end_time="2026-04-31T00:00:00Z"), "wrong_type: end_time"),
    "day 00": (message(end_time="2026-04-00T00:00:00Z"), "wrong_type: end_time"),
    "hour 24": (message(start_time="2026-01-02T24:00:00Z"), "wrong_type: start_time"),
    "second 60": (message(start_time="2026-01-02T23:59:60Z"), "wrong_type: start_time"),
    "offset +18:00": (message(start_time="2026-01-02T10:00:00+18:00"), None),
    "offset +18:01": (message(start_time="2026-01-02T10:00:00+18:01"), "wrong_type: start_time"),
    "offset +99:99": (message(end_time="2026-01-02T10:00:00+99:99"), "wrong_type: end_time"),
    "year 0001": (message(start_time="0001-01-01T00:00:00Z"), None),
    "year 9999, last microsecond": (message(end_time="9999-12-31T23:59:59.999999Z"), None),
    # A version is quoted, not copied whole, in its reason.
    "a long unsupported version": (
        message(schema_version="9" * 1000),
        "unsupported_schema_version: " + "9" * 64,
    ),
}
for name in TEXT_FIELDS:
    CASES[f"{name} at its bound"] = (message(**{name: "x" * MAX_TEXT_BYTES[name]}), None)
    CASES[f"{name} over its bound"] = (
        message(**{name: "x" * (MAX_TEXT_BYTES[name] + 1)}),
        f"too_long: {name}",
    )


@pytest.fixture(scope="module")
def judged(spark: SparkSession) -> dict[str, Judged]:
    labels = list(CASES)
    results = judge(parse(kafka_records(spark, [CASES[label][0] for label in labels])))
    return {label: results[i] for i, label in enumerate(labels)}


@pytest.mark.parametrize("label", list(CASES))
def test_reason(label: str, judged: dict[str, Judged]) -> None:
    reason, typed = judged[label]
    assert reason == CASES[label][1]
    if reason is not None:
        assert set(typed.values()) == {None}


def test_every_text_field_has_a_bound() -> None:
    assert set(MAX_TEXT_BYTES) == {f.name for f in CDR_EVENT_FIELDS if f.type == "string"}
    assert all(32 <= bound <= 1000 for bound in MAX_TEXT_BYTES.values())


def test_accepted_texts_and_numbers_are_stored_as_written(judged: dict[str, Judged]) -> None:
    assert judged["a text spelling an object"][1]["record_id"] == '{"id": 1}'
    assert judged["a text spelling Infinity in quotes"][1]["other_party"] == '"Infinity"'
    assert judged["a number for a text"][1]["served_msisdn"] == "213550000001"
    assert judged["braces inside texts"][1]["apn"] == "{x"
    assert judged["whitespace around the object"][1] == judged["a ']' inside a text"][1] | {
        "record_id": VALID_EVENT["record_id"],
        "apn": VALID_EVENT["apn"],
    }
    assert judged["leading zeros in text"][1]["cause_code"] == 7
    assert (judged["minus zero"][1]["cause_code"], judged["minus zero"][1]["duration_s"]) == (0, 0)
    last = judged["year 9999, last microsecond"][1]["end_time"]
    assert last == micros("9999-12-31T23:59:59.999999+00:00")
    assert judged["offset +18:00"][1]["start_time"] == micros("2026-01-01T16:00:00+00:00")


# --- Whatever the session's ANSI setting --------------------------------------------------------

ANSI_CASES = [
    message(),
    message(cause_code=99999),
    message(duration_s=-(2**31) - 1),
    raw(bytes_up="9223372036854775808"),
    message(start_time="2026-02-30T10:00:00Z"),
    message(end_time="2026-01-02T25:61:00Z"),
    message(roaming="yes"),
    message(duration_s="ten"),
]


def _run(spark: SparkSession, ansi: str) -> list[tuple[Any, ...]]:
    previous = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        parsed = parse(kafka_records(spark, ANSI_CASES))
        typed = parsed.select("offset", "reason", *typed_columns(F.col("fields"), F.col("reason").isNull()))
        return [tuple(row) for row in typed.orderBy("offset").collect()]
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)


def test_the_verdict_does_not_depend_on_ansi_mode(spark: SparkSession) -> None:
    strict, lenient = _run(spark, "true"), _run(spark, "false")
    assert strict == lenient
    assert [row[1] for row in strict] == [
        None,
        "out_of_range: cause_code",
        "out_of_range: duration_s",
        "out_of_range: bytes_up",
        "wrong_type: start_time",
        "wrong_type: end_time",
        "wrong_type: roaming",
        "wrong_type: duration_s",
    ]
