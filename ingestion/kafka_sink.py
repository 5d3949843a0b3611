"""Produce CDR events to Kafka as JSON messages (schema version 1, README "CDR messages").

Messages are keyed by the served MSISDN, so one subscriber's events stay in one partition and
in order. Every field of the raw contract is present; times are ISO-8601 UTC strings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import KafkaError, Message, Producer

from core import clients
from core.contracts.cdr_message import KEY_FIELD, SCHEMA_VERSION
from core.contracts.generation import GenerationSource
from core.exceptions import ServiceUnavailableError
from core.run_metrics import Sample, write_samples
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)
_METRIC = "lakehouse_producer"
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
    """Sends event batches to a CDR topic (idempotent producer, acks from all replicas, zstd,
    small linger) as the ``producer`` identity, and keeps count of what the broker acknowledged.

    ``send`` only queues: a message counts as delivered once the broker has acknowledged it, or
    as failed when librdkafka gives up on it (``kafka.delivery_timeout_s``, e.g. the broker is
    down that long). :meth:`flush` waits for every verdict and raises when any was not delivered.
    ``options`` are librdkafka settings that override ours (tests: short timeouts).
    """

    def __init__(
        self, settings: LakehouseSettings, topic: str | None = None, options: dict[str, object] | None = None
    ) -> None:
        self.settings = settings
        self.topic = topic or settings.kafka.cdr_topic
        self.queued = 0
        self.failed = 0
        self.first_error: KafkaError | None = None
        self._warn_at = 1
        config = {
            "enable.idempotence": True,
            "acks": "all",
            "delivery.timeout.ms": int(settings.kafka.delivery_timeout_s * 1000),
            "linger.ms": 20,
            "compression.type": "zstd",
            # Reports for failures only: a Python call per delivered message would cost throughput.
            # Delivered = queued - failed - still in flight (exact once flushed).
            "delivery.report.only.error": True,
            "on_delivery": self._on_failure,
            "logger": log,  # librdkafka's own log lines (connection refused ...) through logging
            **(options or {}),
        }
        self.config = clients.kafka_config(settings, "producer", **config)  # what librdkafka is given
        self._producer = Producer(self.config)

    def _on_failure(self, error: KafkaError | None, message: Message) -> None:
        if error is None:  # not called for deliveries (delivery.report.only.error)
            return
        self.failed += 1
        self.first_error = self.first_error or error
        if self.failed >= self._warn_at:  # at 1, 10, 100 ... failures: a live producer says so
            self._warn_at *= 10
            log.warning(
                "%s message(s) for %s not delivered so far; first error: %s",
                f"{self.failed:,}",
                self.topic,
                _describe(self.first_error),
            )

    @property
    def pending(self) -> int:
        """Messages queued or in flight, without a verdict yet."""
        return len(self._producer)

    @property
    def delivered(self) -> int:
        """Messages the broker acknowledged (exact after :meth:`flush`; in flight ones are not)."""
        return max(0, self.queued - self.failed - self.pending)

    def send(self, batch: pa.RecordBatch | pa.Table) -> int:
        """Queue every event of ``batch``; returns how many were queued (not yet delivered)."""
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
                self.queued += 1
                return
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain

    def record_metrics(self) -> None:
        """Leave this producer's totals for the lakehouse exporter (``producer-<topic>``); a
        failed write is logged, never raised: metrics must not stop a producer."""
        self._producer.poll(0)  # collect the failure reports that are due
        labels = {"topic": self.topic}
        samples = [
            Sample(f"{_METRIC}_messages_queued_total", self.queued, labels, "counter", "Messages queued."),
            Sample(f"{_METRIC}_messages_delivered_total", self.delivered, labels, "counter", "Acknowledged."),
            Sample(f"{_METRIC}_delivery_failures_total", self.failed, labels, "counter", "Given up on."),
        ]
        try:
            write_samples(self.settings, f"producer-{self.topic}", samples)
        except OSError as exc:
            log.warning("producer metrics not written: %s", exc)

    def flush(self, timeout: float | None = None) -> int:
        """Wait for the verdict on every queued message; returns how many were delivered.

        Raises ServiceUnavailableError naming how many of how many were not delivered (failed,
        or still without a verdict after ``timeout``; default: the delivery timeout + 10 s) and
        the first error.
        """
        timeout = self.settings.kafka.delivery_timeout_s + 10 if timeout is None else timeout
        waiting = self._producer.flush(timeout)
        if self.failed or waiting:
            why = f"{self.failed:,} failed" + (
                f", {waiting:,} still waiting after {timeout:g} s" if waiting else ""
            )
            first = f"; first error: {_describe(self.first_error)}" if self.first_error is not None else ""
            raise ServiceUnavailableError(
                f"Kafka at {self.settings.kafka.bootstrap_servers}: {self.queued - self.delivered:,} of "
                f"{self.queued:,} messages to {self.topic} were not delivered ({why}){first}; "
                f"{self.delivered:,} were. Is Kafka up (`lakehouse status`)?"
            )
        return self.delivered


def _describe(error: KafkaError) -> str:
    return f"{error.name()}: {error.str()}"


def produce_generation(
    settings: LakehouseSettings,
    generation: GenerationSource,
    rate: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Send every event of ``generation`` to the CDR topic, at most ``rate`` events/s if given.

    Returns how many the broker acknowledged; raises ServiceUnavailableError (from
    :meth:`CdrProducer.flush`) when any was not delivered.
    """
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
    return producer.flush()
