"""Produce CDR events to Kafka as JSON messages (schema version 1, README "CDR messages").

Messages are keyed by the served MSISDN, so one subscriber's events stay in one partition and
in order. Every field of the raw contract is present; times are ISO-8601 UTC strings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Producer

from generator.run import Generation
from lakehouse import clients
from lakehouse.exceptions import ServiceUnavailableError
from lakehouse.settings import LakehouseSettings

SCHEMA_VERSION = 1


def event_messages(batch: pa.RecordBatch) -> Iterator[tuple[bytes | None, bytes]]:
    """(key, value) of each event of a batch, in the documented JSON format."""
    columns = {name: batch.column(name) for name in batch.schema.names}
    for name in ("start_time", "end_time"):
        # For microsecond timestamps %S prints seconds with six decimals: 2026-12-29T13:09:25.345145Z
        columns[name] = pc.strftime(columns[name], format="%Y-%m-%dT%H:%M:%SZ")
    rows = pa.table(columns).to_pylist()
    for row in rows:
        row["schema_version"] = SCHEMA_VERSION
        key = row["served_msisdn"]
        yield (key.encode() if key else None), json.dumps(row, separators=(",", ":")).encode()


def produce_generation(
    settings: LakehouseSettings,
    generation: Generation,
    rate: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Send every event of ``generation`` to the CDR topic, at most ``rate`` events/s if given."""
    producer = Producer(
        clients.kafka_config(
            settings, **{"enable.idempotence": True, "linger.ms": 20, "compression.type": "zstd"}
        )
    )
    topic, sent, began = settings.kafka.cdr_topic, 0, time.monotonic()
    for batch, _ in generation.batches():
        for key, value in event_messages(batch):
            while True:
                try:
                    producer.produce(topic, value=value, key=key)
                    break
                except BufferError:
                    producer.poll(0.1)  # local queue full: let deliveries drain
            sent += 1
            if rate and sent % 1000 == 0:
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        producer.poll(0)
        if on_batch is not None:
            on_batch(batch.num_rows)
    if producer.flush(60) > 0:
        raise ServiceUnavailableError(
            f"Kafka at {settings.kafka.bootstrap_servers} did not take every message"
        )
    return sent
