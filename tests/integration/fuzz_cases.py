"""Seeded fuzz cases for the stream, derived from the message contract (``core.contracts``).

Every field of a version-1 message (``message_fields``) gets the values at and past the limits of
its type - both bounds of each integer column and one past them, text at and past its byte bound,
times that never were, objects, arrays and non-finite numbers where a scalar is due - and every
message gets the ways a whole message can be wrong (empty, random bytes, not UTF-8, truncated,
nested, two objects, a duplicated name...). A case is either valid (it must land in raw.cdr once,
by its record id) or malformed with the reason its quarantine row must start with (``""`` when
more than one reason is right, e.g. a parser limit reached).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from core.contracts.cdr_message import MAX_TEXT_BYTES, REQUIRED_FIELDS, SCHEMA_VERSION, message_fields

FIELDS = dict(message_fields())
TIMESTAMP = pa.timestamp("us", tz="UTC")
# Kafka refuses a message over about 1 MB (the producer's message.max.bytes); huge texts stay under.
HUGE = (100_000, 600_000, 800_000, 990_000)
NOT_JSON = "invalid_json"


@dataclass(frozen=True)
class Case:
    """One message: its key and value bytes; ``record_id`` if valid, else the expected reason."""

    key: bytes | None
    value: bytes | None
    record_id: str | None = None
    reason: str | None = None  # the start of the quarantine reason; "" = any non-empty reason
    label: str = ""

    @property
    def valid(self) -> bool:
        return self.record_id is not None


def _bounds(type_: pa.DataType) -> tuple[int, int]:
    bits = type_.bit_width
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _raw(values: dict[str, Any], **raw_fields: str) -> bytes:
    """``values`` as a JSON object, then ``raw_fields`` written as the given JSON text."""
    body = json.dumps({k: v for k, v in values.items() if k not in raw_fields})[1:-1]
    extra = ",".join(f'"{name}":{text}' for name, text in raw_fields.items())
    return ("{" + ",".join(part for part in (body, extra) if part) + "}").encode()


class FuzzCases:
    """Valid events and malformed messages from one seeded RNG; record ids start with ``prefix``."""

    def __init__(self, seed: int, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.serial = 0

    # --- valid -------------------------------------------------------------------------------

    def _value(self, name: str, type_: pa.DataType) -> Any:
        rng = self.rng
        if pa.types.is_string(type_):
            return "".join(rng.choice("abcXYZ0189-_:é中") for _ in range(rng.randint(1, 12)))
        if pa.types.is_integer(type_):
            low, high = _bounds(type_)
            return rng.choice([0, 16, rng.randint(0, 10_000), low, high])
        if pa.types.is_boolean(type_):
            return rng.random() < 0.5
        assert type_ == TIMESTAMP, (name, type_)
        # Three days, as live traffic spans: raw.cdr is partitioned by day and the stream keeps a
        # writer open per day in each task (events spread over a year exhaust a 1g driver).
        return f"2026-01-0{rng.randint(1, 3)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"

    def event(self) -> dict[str, Any]:
        """A valid event with a fresh record id; optional fields sometimes left out or null."""
        self.serial += 1
        event: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "record_id": f"{self.prefix}-{self.serial:07d}",
        }
        for name, type_ in FIELDS.items():
            if name in REQUIRED_FIELDS or self.rng.random() < 0.1:
                continue
            event[name] = None if self.rng.random() < 0.05 else self._value(name, type_)
        return event

    def key(self) -> bytes | None:
        return self.rng.choice([None, b"213550000001", bytes(self.rng.getrandbits(8) for _ in range(8))])

    def valid(self, **fields: Any) -> Case:
        event = {**self.event(), **fields}
        return Case(self.key(), json.dumps(event, ensure_ascii=False).encode(), record_id=event["record_id"])

    def valid_raw(self, label: str, **raw_fields: str) -> Case:
        event = self.event()
        record_id = json.loads(raw_fields["record_id"]) if "record_id" in raw_fields else event["record_id"]
        return Case(self.key(), _raw(event, **raw_fields), record_id=record_id, label=label)

    def bad(self, value: bytes | None, reason: str, label: str) -> Case:
        return Case(self.key(), value, reason=reason, label=label)

    # --- per field: at and past its type's limits -------------------------------------------

    def field_values(self, name: str, huge: bool = True) -> list[tuple[str, str | None, str]]:
        """(JSON text, expected reason or None when valid, label) for field ``name``, by its type."""
        type_ = FIELDS[name]
        wrong, out, too_long = f"wrong_type: {name}", f"out_of_range: {name}", f"too_long: {name}"
        values: list[tuple[str, str | None]] = []
        if name == "schema_version":
            version = "unsupported_schema_version"
            values += [(t, version) for t in ("2", "0", "-1", str(2**31), "1.0", '"1.5"', '"v1"')]
        elif pa.types.is_integer(type_):
            low, high = _bounds(type_)
            for number in (low, high):  # at the limits: valid, as a number and as text
                values += [(str(number), None), (json.dumps(str(number)), None)]
            for number in (low - 1, high + 1, 10**30, -(10**400)):
                values += [(str(number), out), (json.dumps(str(number)), out)]
            bad = ("1.5", "1e3", "1.0", "-0.0", "1e400", "-1e400", "true", '""', '"NaN"', '"Infinity"')
            values += [(text, wrong) for text in bad]
            values += [("9" * 1001, ""), ("9" * 100_000, "")]  # past the parser's number length
        elif pa.types.is_string(type_):
            bound = MAX_TEXT_BYTES[name]
            if name == "record_id":  # a valid id is ours (prefixed), to be found in raw.cdr
                self.serial += 1
                head = f"{self.prefix}-{self.serial:07d}-"
                values += [(json.dumps(head.ljust(bound, "x")), None)]
                values += [(json.dumps(head + "é" * ((bound - len(head)) // 2)), None)]
            else:
                values += [(json.dumps("x" * bound), None), (json.dumps("é" * (bound // 2)), None)]
                values += [("213550000001", None), ("true", None)]  # a scalar stands for its text
            values += [
                (json.dumps("x" * (bound + 1)), too_long),
                (json.dumps("é" * (bound // 2 + 1)), too_long),
            ]
            values += [("1e400", wrong), ("-1e999", wrong)]  # numbers too large to be finite
            if huge:
                values.append((json.dumps("h" * self.rng.choice(HUGE)), too_long))
        elif pa.types.is_boolean(type_):
            values += [('"true"', None), ("false", None)]
            values += [(text, wrong) for text in ('"yes"', "1", "0", '"TRUE"', '"True"', '""')]
        else:
            assert type_ == TIMESTAMP, (name, type_)
            values += [('"9999-12-31T23:59:59.999999Z"', None), ('"2024-02-29T00:00:00+18:00"', None)]
            never = (
                "2026-02-30T10:00:00Z", "2026-01-02T25:61:00Z", "2026-13-01T00:00:00Z", "2026-01-02T10:00:00",
                "2026-01-02 10:00:00Z", "2026-01-02T10:00:00+99:00", "2026-01-02T23:59:60Z", "yesterday", "",
            )  # fmt: skip
            values += [(json.dumps(text), wrong) for text in never] + [("1735689600", wrong)]
        if name in REQUIRED_FIELDS:
            values.append(("null", f"missing_field: {name}"))
        # Objects and arrays where a scalar is due, and nesting past the parser's depth limit.
        not_scalar = "unsupported_schema_version" if name == "schema_version" else wrong
        values += [(t, not_scalar) for t in ("{}", "[]", '{"a": [1, {"b": null}]}', '["x"]', "[[[[[[1]]]]]]")]
        values.append(("[" * 5_000 + "]" * 5_000, ""))
        return [(text, reason, f"{name}={text[:40]}") for text, reason in values]

    def field_case(self, name: str, text: str, reason: str | None, label: str) -> Case:
        if reason is None:
            return self.valid_raw(label, **{name: text})
        return self.bad(_raw(self.event(), **{name: text}), reason, label)

    def field_cases(self, name: str) -> Iterator[Case]:
        for text, reason, label in self.field_values(name):
            yield self.field_case(name, text, reason, label)
        if name in REQUIRED_FIELDS:
            event = self.event()
            del event[name]
            yield self.bad(json.dumps(event).encode(), f"missing_field: {name}", f"no {name}")

    # --- whole messages ----------------------------------------------------------------------

    def message_cases(self) -> Iterator[Case]:
        valid = self.valid().value
        assert valid is not None
        for label, value in {
            "empty": b"",
            "no value (a tombstone)": None,
            "whitespace": b" \n\t ",
            "null": b"null",
            "a number": b"1",
            "a string": b'"x"',
            "an array of a message": b"[" + valid + b"]",
            "two objects": valid + valid,
            "trailing text": valid + b" x",
            "truncated": valid[: len(valid) // 2],
            "single quotes": valid.replace(b'"', b"'"),
            "bare NaN": _raw(self.event(), duration_s="NaN"),
            "bare -Infinity": _raw(self.event(), bytes_up="-Infinity"),
            "a comment": b"/* c */" + valid,
            "a trailing comma": valid[:-1] + b",}",
            "not UTF-8 in a text": valid[:-1] + b',"apn":"\xff\xfe"}',
            "an encoded surrogate": valid[:-1] + b',"apn":"\xed\xa0\x80"}',
            "nested 5000 deep": b"[" * 5_000 + b"]" * 5_000,
        }.items():
            yield self.bad(value, "" if label == "no value (a tombstone)" else NOT_JSON, label)

    def random_bytes(self) -> Case:
        size = self.rng.choice([1, 2, 16, 300, 5_000])
        return self.bad(bytes(self.rng.getrandbits(8) for _ in range(size)), NOT_JSON, f"{size} random bytes")

    def duplicate_key(self) -> Case:
        """A name twice, both values valid: ambiguous, whichever one a reader keeps."""
        event = self.event()
        name = self.rng.choice([n for n in FIELDS if n != "schema_version"])
        first = json.dumps(event.get(name))
        again = json.dumps(self._value(name, FIELDS[name]) if name != "record_id" else "other")
        value = _raw(event, **{name: first})[:-1] + f',"{name}":{again}}}'.encode()
        return self.bad(value, "duplicate_key", f"{name} twice")

    def whole_message(self) -> Case:
        return self.rng.choice(list(self.message_cases()))

    # --- the mix -----------------------------------------------------------------------------

    def malformed(self, count: int) -> list[Case]:
        """Every systematic case once, then seeded random ones up to ``count`` malformed messages."""
        systematic = [c for name in FIELDS for c in self.field_cases(name)] + list(self.message_cases())
        bad = [c for c in systematic if not c.valid]
        valid = [c for c in systematic if c.valid]
        # Weighted: mostly a bad field, as a producer's bug would make.
        small: list[Callable[[], Case]] = [self._small_field_case] * 6 + [
            self.random_bytes,
            self.duplicate_key,
            self.whole_message,
        ]
        while len(bad) < count:
            bad.append(self.rng.choice(small)())
        return valid + bad

    def _small_field_case(self) -> Case:
        """A malformed value of a random field, from that field's values (none huge)."""
        name = self.rng.choice(list(FIELDS))
        bad = [value for value in self.field_values(name, huge=False) if value[1] is not None]
        return self.field_case(name, *self.rng.choice(bad))
