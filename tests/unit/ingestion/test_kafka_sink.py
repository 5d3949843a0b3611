"""The documented message format, built column-wise, equals a per-row JSON encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from core.contracts.raw_tables import RAW_CDR_SCHEMA
from generator.config import load_config
from generator.run import Generation
from ingestion.kafka_sink import SCHEMA_VERSION, event_messages


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_messages_carry_every_event_field_with_the_schema_version() -> None:
    batch = next(b for b, _ in Generation(load_config(days=1, subscribers=500, seed=4)).batches())
    keys, values = event_messages(batch)
    rows = batch.to_pylist()
    assert len(values) == len(rows) > 100
    fields = set(batch.schema.names)
    assert fields <= set(RAW_CDR_SCHEMA.names)
    for key, value, row in zip(keys, values, rows, strict=True):
        message = json.loads(value)
        assert message.pop("schema_version") == SCHEMA_VERSION
        assert set(message) == fields
        for name, expected in row.items():
            got = message[name]
            if isinstance(expected, datetime) or (expected is None and name.endswith("_time")):
                assert got == _rfc3339(expected) or (
                    got and expected and datetime.fromisoformat(got) == expected
                ), (name, got, expected)
            elif isinstance(expected, float):
                assert got == expected or abs(got - expected) < 1e-9
            else:
                assert got == expected, (name, got, expected)
        assert key == (row["served_msisdn"].encode() if row["served_msisdn"] is not None else None)


def test_strings_with_quotes_and_control_characters_stay_valid_json() -> None:
    batch = pa.record_batch({"served_msisdn": ['a"b', "c\\d\n\t\u0001é"], "duration_s": [1, None]})
    _, values = event_messages(batch)
    assert [json.loads(v)["served_msisdn"] for v in values] == ['a"b', "c\\d\n\t\u0001é"]
    assert json.loads(values[1])["duration_s"] is None
