"""Dead letters fit on Kafka whatever the size of the message they stand for (found by the fuzz
test: a message near Kafka's 1 MB limit made a letter over it, and the micro-batch failed on
every retry)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest
from pyspark.sql import functions as F

from ingestion.streaming.writer import DEAD_LETTER_VALUE_BYTES, dead_letters
from tests.unit.ingestion.streaming.kafka_records import TOPIC, kafka_records

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KAFKA_MAX_REQUEST = 1_048_576  # the Kafka producer's default max.request.size
LARGEST_MESSAGE = 1_000_000  # what a default producer can send (message.max.bytes)


def _letters(spark: SparkSession, values: list[bytes | None]) -> list[tuple[bytes, bytes]]:
    rejected = kafka_records(spark, values).withColumn("reason", F.lit("too_long: apn"))
    return [(row.key, row.value.encode()) for row in dead_letters(rejected).collect()]


@pytest.mark.parametrize(
    "size", [0, 1, DEAD_LETTER_VALUE_BYTES, DEAD_LETTER_VALUE_BYTES + 1, LARGEST_MESSAGE]
)
def test_a_letter_fits_on_kafka_and_quotes_the_start_of_the_message(spark: SparkSession, size: int) -> None:
    message = bytes(i % 251 for i in range(size))  # not text: every byte value but a few
    ((key, value),) = _letters(spark, [message])
    assert len(key) + len(value) < KAFKA_MAX_REQUEST - 1024  # room for the record's overhead
    letter = json.loads(value)
    assert key.decode() == f"{TOPIC}:0:0"
    assert (letter["reason"], letter["topic"], letter["partition"], letter["offset"]) == (
        "too_long: apn",
        TOPIC,
        0,
        0,
    )
    assert letter["value_bytes"] == size
    assert base64.b64decode(letter["value_base64"]) == message[:DEAD_LETTER_VALUE_BYTES]


def test_a_message_without_value_gets_a_letter_without_one(spark: SparkSession) -> None:
    ((_, value),) = _letters(spark, [None])
    letter = json.loads(value)
    assert letter["reason"] == "too_long: apn"
    assert "value_base64" not in letter and "value_bytes" not in letter
