"""Produce CDR events to Kafka as JSON messages (schema version 1, README "CDR messages").

Messages are keyed by the served MSISDN, so one subscriber's events stay in one partition and
in order. Every field of the raw contract is present; times are ISO-8601 UTC strings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Producer

from core import clients
from core.contracts.cdr_message import KEY_FIELD, SCHEMA_VERSION
from core.contracts.generation import GenerationSource
from core.exceptions import ServiceUnavailableError
from core.settings import LakehouseSettings

# Backslash first, so the escapes added after it are not escaped again.
_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    *((chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\n\r\t"),
)


def _json_values(column: pa.Array) -> pa.Array:
    """Each value of ``column`` as JSON text ("null" for nulls), computed for the whole column."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        # Encode the few distinct values once, then pick them by index.
        return pc.fill_null(pc.take(_json_values(column.dictionary), column.indices), "null")
    if pa.types.is_timestamp(type_):
        # Arrow prints naive microsecond timestamps as 2026-12-29 13:09:25.345145; JSON gets ISO-8601 UTC.
        text = pc.cast(column.cast(pa.timestamp("us")), pa.string())
        text = pc.binary_join_element_wise(
            '"', pc.utf8_slice_codeunits(text, 0, 10), "T", pc.utf8_slice_codeunits(text, 11), 'Z"', ""
        )
    elif pa.types.is_string(type_):
        if pc.any(pc.match_substring_regex(column, r'["\\\x00-\x1f]')).as_py():
            for raw, json_escape in _ESCAPES:
                column = pc.replace_substring(column, raw, json_escape)
        text = pc.binary_join_element_wise('"', column, '"', "")
    elif pa.types.is_boolean(type_):
        text = pc.if_else(column, "true", "false")
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text, "null")


def event_messages(batch: pa.RecordBatch) -> tuple[list[bytes | None], list[bytes]]:
    """(keys, values) of a batch's events in the documented JSON format, built column-wise.

    Arrow's string kernels assemble every message at once: about 20x faster than a
    ``json.dumps`` per row, which matters when one core is shared with the streaming job.
    """
    parts: list[pa.Array | str] = [f'{{"schema_version":{SCHEMA_VERSION}']
    for name in batch.schema.names:
        parts.append(f',"{name}":')
        parts.append(_json_values(batch.column(name)))
    parts.append("}")
    values = pc.binary_join_element_wise(*parts, "")
    keys = batch.column(KEY_FIELD)
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    return keys.cast(pa.binary()).to_pylist(), values.cast(pa.binary()).to_pylist()


class CdrProducer:
    """Sends event batches to a CDR topic (idempotent producer, zstd, small linger)."""

    def __init__(self, settings: LakehouseSettings, topic: str | None = None) -> None:
        self.settings = settings
        self.topic = topic or settings.kafka.cdr_topic
        self._producer = Producer(
            clients.kafka_config(
                settings, **{"enable.idempotence": True, "linger.ms": 20, "compression.type": "zstd"}
            )
        )

    def send(self, batch: pa.RecordBatch | pa.Table) -> int:
        """Queue every event of ``batch``; returns how many."""
        sent = 0
        for batch_part in batch.to_batches() if isinstance(batch, pa.Table) else [batch]:
            keys, values = event_messages(batch_part)
            for key, value in zip(keys, values, strict=True):
                self.send_raw(key, value)
            sent += len(values)
        self._producer.poll(0)
        return sent

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key)
                return
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain

    def flush(self, timeout: float = 60) -> None:
        if self._producer.flush(timeout) > 0:
            raise ServiceUnavailableError(
                f"Kafka at {self.settings.kafka.bootstrap_servers} did not take every message"
            )


def produce_generation(
    settings: LakehouseSettings,
    generation: GenerationSource,
    rate: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Send every event of ``generation`` to the CDR topic, at most ``rate`` events/s if given."""
    producer = CdrProducer(settings)
    sent, began = 0, time.monotonic()
    for batch, _ in generation.batches():
        # Rate-limited: send in slices of 1,000 and wait whenever ahead of schedule.
        step = 1000 if rate else batch.num_rows
        for offset in range(0, batch.num_rows, step):
            sent += producer.send(batch.slice(offset, step))
            if rate:
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        if on_batch is not None:
            on_batch(batch.num_rows)
    producer.flush()
    return sent
