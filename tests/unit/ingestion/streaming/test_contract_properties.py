"""Property test of the stream contract (issue 12): thousands of generated messages, malformed
and valid mixed. Parsing and typing them all never raises; every malformed one has a reason;
every valid one has none and comes back typed exactly as written. The alerts query's parse
never raises on them either."""

from __future__ import annotations

import calendar
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime as dt
from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from core.contracts.cdr_message import MAX_TEXT_BYTES
from core.contracts.raw_tables import CDR_EVENT_FIELDS
from core.settings import AlertSettings
from ingestion.streaming.alerts import cell_windows
from ingestion.streaming.contract import parse
from tests.unit.ingestion.streaming.judging import Judged, judge, micros
from tests.unit.ingestion.streaming.kafka_records import kafka_records

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SEED = 20260212
MESSAGES = 3000  # about half of them malformed
INTEGERS = {
    f.name: (-(2 ** (f.type.bit_width - 1)), 2 ** (f.type.bit_width - 1) - 1)
    for f in CDR_EVENT_FIELDS
    if pa.types.is_integer(f.type)
}
TEXTS = [f.name for f in CDR_EVENT_FIELDS if pa.types.is_string(f.type)]
TIMES = [f.name for f in CDR_EVENT_FIELDS if pa.types.is_timestamp(f.type)]
# Characters a text is drawn from: what JSON must escape, what looks like JSON, beyond ASCII.
ALPHABET = [*"abcXYZ019 -_.:/{}[]\",\\'", "\x00", "\x1f", "\t", "\n", "é", "中", "😀", "\u2028", "\ufeff"]


@dataclass
class Case:
    value: bytes
    typed: dict[str, Any] | None  # the typed columns of a valid message; None when malformed
    reason: str | None = None  # for a malformed one, how its reason starts, when it is known


class Messages:
    """Seeded generator of valid events, the JSON text of each, and ways to spoil them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, longest: int) -> str:
        rng = self.rng
        while True:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, min(longest, 40))))
            if len(text.encode()) <= longest:
                return text

    def time(self) -> tuple[str, int]:
        """A real instant written with a random zone and precision, and its epoch microseconds."""
        rng = self.rng
        year, month = rng.randint(2, 9998), rng.randint(1, 12)
        day = rng.randint(1, calendar.monthrange(year, month)[1])
        hms = (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
        digits = rng.randint(0, 6)
        fraction = "".join(rng.choice("0123456789") for _ in range(digits))
        micro = int(fraction.ljust(6, "0")) if digits else 0
        offset = rng.choice([0, rng.randint(-18 * 60, 18 * 60)])
        zone = (
            "Z"
            if offset == 0 and rng.random() < 0.5
            else f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        )
        text = f"{year:04d}-{month:02d}-{day:02d}T{hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d}"
        text += (f".{fraction}" if digits else "") + zone
        instant = dt(year, month, day, *hms, micro, tzinfo=timezone(timedelta(minutes=offset)))
        return text, micros(instant)

    def event(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(JSON values of a valid message, its typed columns)."""
        rng = self.rng
        values: dict[str, Any] = {"schema_version": rng.choice([1, "1"])}
        typed: dict[str, Any] = {}
        for f in CDR_EVENT_FIELDS:
            name = f.name
            if name != "record_id" and rng.random() < 0.15:
                typed[name] = None
                if rng.random() < 0.5:
                    values[name] = None
                continue
            if name in TEXTS:
                if rng.random() < 0.1:  # a number stands for its text
                    number = rng.randint(-(10**12), 10**12)
                    values[name], typed[name] = number, str(number)
                else:
                    values[name] = typed[name] = self.text(MAX_TEXT_BYTES[name])
            elif name in INTEGERS:
                low, high = INTEGERS[name]
                number = rng.choice([low, high, 0, rng.randint(low, high)])
                typed[name] = number
                values[name] = str(number) if rng.random() < 0.2 else number
            elif name in TIMES:
                values[name], typed[name] = self.time()
            else:
                flag = rng.random() < 0.5
                typed[name] = flag
                values[name] = ("true" if flag else "false") if rng.random() < 0.2 else flag
        if rng.random() < 0.2:
            values[f"unknown_{rng.randint(0, 9)}"] = rng.choice([{"a": [1, {"b": None}]}, [[]], "x", 1.5])
        return values, typed

    def dumps(self, values: dict[str, Any]) -> bytes:
        rng = self.rng
        items = list(values.items())
        rng.shuffle(items)
        text = json.dumps(
            dict(items),
            ensure_ascii=rng.random() < 0.5,
            indent=rng.choice([None, None, 2]),
            separators=rng.choice([(",", ":"), (", ", ": ")]),
        )
        return text.encode()

    def valid(self) -> Case:
        values, typed = self.event()
        space = self.rng.choice(["", "", " ", "\n", "\t\r\n "])
        return Case(space.encode() + self.dumps(values) + space[::-1].encode(), typed)

    def with_raw(self, **fields: str) -> bytes:
        """A valid message (no whitespace) whose ``fields`` hold the given raw JSON text."""
        values, _ = self.event()
        for name in fields:
            values.pop(name, None)
        body = self.dumps(values).decode().strip()[1:-1]
        extra = "".join(f',"{name}":{text}' for name, text in fields.items())
        return ("{" + (body + extra if body else extra[1:]) + "}").encode()

    # --- Malformed: each returns the message and how its reason starts (None: any reason) ---

    def out_of_range(self) -> tuple[bytes, str]:
        name = self.rng.choice(list(INTEGERS))
        low, high = INTEGERS[name]
        number = self.rng.choice([low - 1, high + 1, high * 10**20, low - self.rng.randint(1, 10**30)])
        text = json.dumps(str(number)) if self.rng.random() < 0.3 else str(number)
        return self.with_raw(**{name: text}), f"out_of_range: {name}"

    def impossible_time(self) -> tuple[bytes, str]:
        rng = self.rng
        year, month, day = rng.randint(1000, 9999), rng.randint(1, 12), 1
        hour, minute, second, zone = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), "Z"
        spoil = rng.randrange(6)
        if spoil == 0:
            month = rng.choice([0, *range(13, 100)])
        elif spoil == 1:
            day = rng.choice([0, *range(calendar.monthrange(year, month)[1] + 1, 100)])
        elif spoil == 2:
            hour = rng.randint(24, 99)
        elif spoil == 3:
            minute = rng.randint(60, 99)
        elif spoil == 4:
            second = rng.randint(60, 99)
        else:
            zone = rng.choice(
                [
                    f"+{rng.randint(19, 99):02d}:00",
                    f"-18:{rng.randint(1, 59):02d}",
                    f"+01:{rng.randint(60, 99)}",
                ]
            )
        name = rng.choice(TIMES)
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"
        return self.with_raw(**{name: json.dumps(text)}), f"wrong_type: {name}"

    def random_bytes(self) -> tuple[bytes, str]:
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 300))), "invalid_json"

    def nested(self) -> tuple[bytes, str]:
        rng = self.rng
        shape = rng.choice(["{}", "[]", '{"a": "b"}', '["x", {"y": [1]}]', "[null]"])
        name = rng.choice([f.name for f in CDR_EVENT_FIELDS if f.name not in TIMES or rng.random() < 0.5])
        if rng.random() < 0.15:  # the whole message nested
            message = self.valid().value.strip()
            return rng.choice(
                [b"[" + message + b"]", b'"' + message.replace(b'"', b'\\"') + b'"']
            ), "invalid_json"
        return self.with_raw(**{name: shape}), f"wrong_type: {name}"

    def too_long(self) -> tuple[bytes, str]:
        name = self.rng.choice(TEXTS)
        size = self.rng.choice([MAX_TEXT_BYTES[name] + 1, MAX_TEXT_BYTES[name] * 4, 20_000])
        return self.with_raw(**{name: json.dumps("é" * (size // 2 + 1))}), f"too_long: {name}"

    def overflow_in_text(self) -> tuple[bytes, str]:
        name = self.rng.choice(TEXTS)
        return self.with_raw(
            **{name: self.rng.choice(["1e400", "-1e400", "9.9e99999"])}
        ), f"wrong_type: {name}"

    def two_objects(self) -> tuple[bytes, str]:
        separator = self.rng.choice([b"", b" ", b"\n", b",", b"]", b"}"])
        return self.valid().value + separator + self.valid().value, "invalid_json"

    def trailing(self) -> tuple[bytes, str]:
        junk = self.rng.choice(
            [b"x", b"}", b"]", b"] }", b",", b"null", b"1", b"// c", b"/* c */", b"# c", b"{", b'"']
        )
        return self.valid().value + self.rng.choice([b"", b" ", b"\n"]) + junk, "invalid_json"

    def truncated(self) -> tuple[bytes, str]:
        message = self.valid().value.strip()
        return message[: self.rng.randint(0, len(message) - 1)], "invalid_json"

    def not_strict(self) -> tuple[bytes, str]:
        rng = self.rng
        message = self.with_raw()
        spoil = rng.randrange(5)
        if spoil == 0:
            return message.replace(b'"', b"'"), "invalid_json"
        if spoil == 1:
            name = rng.choice(TEXTS + list(INTEGERS))
            return self.with_raw(**{name: rng.choice(["NaN", "Infinity", "-Infinity"])}), "invalid_json"
        if spoil == 2:
            return b"{/* c */" + message[1:], "invalid_json"
        if spoil == 3:
            return message[:-1] + b",}", "invalid_json"
        return self.with_raw(duration_s=f"0{rng.randint(0, 99)}"), "invalid_json"

    def unframed(self) -> tuple[bytes, str]:
        rng = self.rng
        choice = rng.randrange(3)
        if choice == 0:
            return self.with_raw(record_id="null"), "missing_field: record_id"
        if choice == 1:
            return self.with_raw(schema_version=str(rng.randint(2, 10**6))), "unsupported_schema_version"
        return b"{}", "missing_field: schema_version"

    def malformed(self) -> Case:
        spoilers: list[Callable[[], tuple[bytes, str]]] = [
            self.out_of_range,
            self.impossible_time,
            self.random_bytes,
            self.nested,
            self.too_long,
            self.overflow_in_text,
            self.two_objects,
            self.trailing,
            self.truncated,
            self.not_strict,
            self.unframed,
        ]
        value, reason = self.rng.choice(spoilers)()
        return Case(value, None, reason)


def _every_integer_limit() -> list[Case]:
    """Every integer field at min-1, min, max, max+1 of its type, as a number and as text."""
    messages = Messages(SEED + 1)
    cases = []
    for name, (low, high) in INTEGERS.items():
        for number in (low - 1, low, high, high + 1):
            for text in (str(number), json.dumps(str(number))):
                values, typed = messages.event()
                values.pop(name, None)
                body = json.dumps(values)[1:-1]
                value = ("{" + body + f',"{name}":{text}' + "}").encode()
                if low <= number <= high:
                    cases.append(Case(value, typed | {name: number}))
                else:
                    cases.append(Case(value, None, f"out_of_range: {name}"))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    messages = Messages(SEED)
    generated = [
        messages.valid() if messages.rng.random() < 0.5 else messages.malformed() for _ in range(MESSAGES)
    ]
    return _every_integer_limit() + generated


@pytest.fixture(scope="module")
def verdicts(spark: SparkSession, cases: list[Case]) -> dict[int, Judged]:
    # Collecting everything: parse() and typed_columns() must not raise on any of it.
    return judge(parse(kafka_records(spark, [case.value for case in cases])))


def test_the_mix_is_large_and_mixed(cases: list[Case]) -> None:
    valid = sum(case.typed is not None for case in cases)
    assert len(cases) > MESSAGES
    assert MESSAGES // 3 < valid < len(cases) - MESSAGES // 3


def test_every_malformed_message_has_a_reason(cases: list[Case], verdicts: dict[int, Judged]) -> None:
    wrong = {}
    for offset, case in enumerate(cases):
        reason, typed = verdicts[offset]
        if case.typed is None and (reason is None or not reason.startswith(case.reason or "")):
            wrong[offset] = (case.value[:200], case.reason, reason)
        elif case.typed is None and set(typed.values()) != {None}:
            wrong[offset] = (case.value[:200], "no typed values", typed)
    assert not wrong, list(wrong.items())[:5]


def test_every_valid_message_round_trips(cases: list[Case], verdicts: dict[int, Judged]) -> None:
    wrong = {}
    for offset, case in enumerate(cases):
        reason, typed = verdicts[offset]
        if case.typed is not None and (reason, typed) != (None, case.typed):
            wrong[offset] = (case.value[:200], reason, {k: v for k, v in typed.items() if v != case.typed[k]})
    assert not wrong, list(wrong.items())[:5]


def test_the_alerts_parse_never_raises(spark: SparkSession, cases: list[Case]) -> None:
    rules = AlertSettings(window_seconds=3600, lateness_seconds=0)
    windows = cell_windows(kafka_records(spark, [case.value for case in cases]), rules)
    assert windows.count() >= 1
