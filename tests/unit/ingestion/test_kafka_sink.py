"""The documented message format, built column-wise, equals a per-row JSON encoding; the producer
counts what the broker did not take (a real librdkafka client on a closed port, no broker)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from core.contracts.raw_tables import RAW_CDR_SCHEMA
from core.exceptions import ServiceUnavailableError
from core.run_metrics import read_samples
from core.settings import LakehouseSettings, load_settings
from generator.config import load_config
from generator.run import Generation
from ingestion.kafka_sink import SCHEMA_VERSION, CdrProducer, event_messages


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


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_kafka(**kafka: object) -> LakehouseSettings:
    return load_settings(
        env_file=None, kafka={"port": closed_port(), "producer_password": "producer-password-0123", **kafka}
    )


@pytest.fixture(scope="module")
def batch() -> pa.RecordBatch:
    return next(b for b, _ in Generation(load_config(days=1, subscribers=300, seed=4)).batches())


def test_undelivered_events_are_counted_and_flush_raises_naming_how_many(batch: pa.RecordBatch) -> None:
    producer = CdrProducer(unreachable_kafka(delivery_timeout_s=1), "cdr.test")
    assert producer.send(batch.slice(0, 40)) == 40
    assert producer.send(batch.slice(40, 10)) == 10
    assert (producer.queued, producer.delivered, producer.failed) == (50, 0, 0)
    with pytest.raises(ServiceUnavailableError) as caught:
        producer.flush()
    message = str(caught.value)
    assert "50 of 50 messages to cdr.test were not delivered (50 failed)" in message
    assert "first error: _MSG_TIMED_OUT" in message
    assert "0 were" in message
    assert (producer.queued, producer.delivered, producer.failed, producer.pending) == (50, 0, 50, 0)
    assert caught.value.exit_code == 7


def test_flush_that_times_out_before_a_verdict_counts_the_waiting_ones(batch: pa.RecordBatch) -> None:
    # The librdkafka settings are injectable: here the delivery timeout outlasts the flush.
    producer = CdrProducer(unreachable_kafka(), "cdr.test", options={"delivery.timeout.ms": 60_000})
    producer.send(batch.slice(0, 7))
    with pytest.raises(ServiceUnavailableError, match=r"7 of 7 .*\(0 failed, 7 still waiting after 0\.2 s\)"):
        producer.flush(0.2)
    assert (producer.delivered, producer.pending) == (0, 7)


def test_the_producer_waits_for_every_replica_within_the_delivery_timeout() -> None:
    producer = CdrProducer(unreachable_kafka(delivery_timeout_s=45))
    assert producer.flush() == 0  # nothing queued: nothing to deliver
    # What librdkafka was given (no broker needed to build a client).
    assert producer.config["acks"] == "all"
    assert producer.config["enable.idempotence"] is True
    assert producer.config["delivery.timeout.ms"] == 45_000


def test_the_producer_leaves_its_totals_for_the_exporter(batch: pa.RecordBatch, tmp_path) -> None:
    settings = unreachable_kafka(delivery_timeout_s=1).model_copy(update={"home": tmp_path})
    producer = CdrProducer(settings, "cdr.test")
    producer.send(batch.slice(0, 12))
    with pytest.raises(ServiceUnavailableError):
        producer.flush()
    producer.record_metrics()
    samples = {s.name: s for s in read_samples(settings)["producer-cdr.test"]}
    assert samples["lakehouse_producer_messages_queued_total"].value == 12
    assert samples["lakehouse_producer_delivery_failures_total"].value == 12
    assert samples["lakehouse_producer_messages_delivered_total"].value == 0
    assert all(s.labels == {"topic": "cdr.test"} and s.kind == "counter" for s in samples.values())
