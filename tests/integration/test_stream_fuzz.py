"""10,000 malformed messages through the real streaming job (Kafka -> Spark -> Iceberg), seeded.

The cases come from the message contract (``tests.integration.fuzz_cases``): every field at and
past its type's limits, times that never were, objects where a scalar is due, huge texts up to
Kafka's message size, random bytes, text that is not UTF-8, empty messages, duplicated names...
interleaved with valid events. Every malformed one must be in the quarantine table and on the
dead-letter topic with a reason; every valid one in raw.cdr exactly once; the job must never
restart a query; and valid events sent after the garbage must land as quickly as before it.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable

from confluent_kafka import Consumer, Producer

from core import clients
from core.settings import LakehouseSettings
from ingestion.streaming.progress import state_file
from ingestion.streaming.supervision import JobState
from ingestion.streaming.writer import DEAD_LETTER_VALUE_BYTES
from tests.integration.conftest import unique
from tests.integration.fuzz_cases import Case, FuzzCases
from tests.integration.test_stream import (  # noqa: F401 - fixtures, imported to be shared
    NS,
    caught_up,
    shared_topic,
    stream_settings,
    wait_until,
)

SEED = 20260312
MALFORMED = 10_000
VALID_EVERY = 3  # a valid event after every few malformed ones
PROBE = 2_000  # valid events timed before and after the garbage
RECOVERY_SECONDS = 240  # the bound on landing a probe (a fresh job, a loaded 2-core machine)
Coordinates = tuple[int, int]  # (partition, offset)


def _send(settings: LakehouseSettings, topic: str, cases: list[Case]) -> list[Coordinates]:
    """Produce ``cases`` in order; the (partition, offset) each landed at, in the same order."""
    # Up to Kafka's own limit (the broker takes 1 MB by default): the huge texts are near it.
    producer = Producer(clients.kafka_config(settings, "producer", **{"message.max.bytes": 1_048_000}))
    landed: dict[int, Coordinates] = {}
    errors: list[str] = []

    def delivered(index: int) -> Callable[[object, object], None]:
        def report(error: object, message: object) -> None:
            if error is not None:
                errors.append(str(error))
            else:
                landed[index] = (message.partition(), message.offset())  # type: ignore[attr-defined]

        return report

    for index, case in enumerate(cases):
        while True:
            try:
                producer.produce(topic, value=case.value, key=case.key, on_delivery=delivered(index))
                break
            except BufferError:
                producer.poll(0.1)  # the local queue is full: let deliveries drain
    assert producer.flush(60) == 0 and not errors, errors[:3]
    return [landed[i] for i in range(len(cases))]


def _landed(settings: LakehouseSettings, prefix: str) -> Counter[str]:
    rows = clients.trino_query(
        settings,
        f"SELECT record_id, count(*) FROM {NS}.cdr WHERE record_id LIKE '{prefix}-%' GROUP BY record_id",
    )
    return Counter({record_id: int(n) for record_id, n in rows})


def _time_to_land(settings: LakehouseSettings, topic: str, cases: FuzzCases, prefix: str) -> float:
    """Send PROBE valid events; the seconds until all of them are in raw.cdr."""
    began = time.monotonic()
    _send(settings, topic, [cases.valid() for _ in range(PROBE)])
    wait_until(
        lambda: sum(_landed(settings, prefix).values()) >= PROBE, RECOVERY_SECONDS, f"{prefix} to land"
    )
    return time.monotonic() - began


def _dead_letters(settings: LakehouseSettings, topic: str, expected: set[str]) -> dict[str, dict]:
    """The dead letters of ``topic`` (by their key, topic:partition:offset) once all expected are in."""
    consumer = Consumer(
        clients.kafka_config(
            settings, "admin", **{"group.id": unique("fuzz"), "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([settings.kafka.dead_letter_topic])
    letters: dict[str, dict] = {}
    try:

        def read() -> bool:
            for message in consumer.consume(1000, timeout=1):
                key = (message.key() or b"").decode()
                if message.error() is None and key.startswith(f"{topic}:"):
                    letters[key] = json.loads(message.value())
            return expected <= letters.keys()

        wait_until(read, timeout=120, what="every dead letter")
    finally:
        consumer.close()
    return letters


def test_ten_thousand_malformed_messages_never_stop_the_stream(
    stream_settings: LakehouseSettings,  # noqa: F811 - the fixtures, imported
    shared_topic: str,  # noqa: F811
) -> None:
    settings, topic, prefix = stream_settings, shared_topic, unique("fz")
    began = time.monotonic()
    before = _time_to_land(settings, topic, FuzzCases(SEED + 1, f"{prefix}b"), f"{prefix}b")

    fuzz = FuzzCases(SEED, prefix)
    cases: list[Case] = []
    for n, case in enumerate(fuzz.malformed(MALFORMED)):
        cases.append(case)
        if n % VALID_EVERY == 0:
            cases.append(fuzz.valid())
    bad = [case for case in cases if not case.valid]
    assert len(bad) >= MALFORMED
    coordinates = _send(settings, topic, cases)
    sent_garbage = time.monotonic()
    after = _time_to_land(settings, topic, FuzzCases(SEED + 2, f"{prefix}a"), f"{prefix}a")
    wait_until(lambda: caught_up(settings, topic), RECOVERY_SECONDS, "the job to catch up")
    print(  # the measurements, for the record (pytest -s)
        f"\nfuzz: {len(bad)} malformed + {len(cases) - len(bad)} valid; {PROBE} valid events landed in "
        f"{before:.1f}s before the garbage and {after:.1f}s after it (sent {sent_garbage - began:.0f}s "
        f"in); whole test {time.monotonic() - began:.0f}s"
    )

    # The job never restarted a query: bad input does not fail a micro-batch.
    state = JobState.read(state_file(settings, topic))
    assert state is not None and state.describe() == "running", state
    assert sum(q.restarts for q in state.queries.values()) == 0

    # Every valid event exactly once, and nothing else of ours.
    landed = _landed(settings, prefix)
    expected_ids = {case.record_id for case in cases if case.valid}
    assert {i for i in landed if not i.startswith((f"{prefix}b-", f"{prefix}a-"))} == expected_ids
    assert set(landed.values()) == {1}

    # Every malformed message in quarantine, once, with the reason its case expects.
    rows = clients.trino_query(
        settings,
        f"SELECT partition, \"offset\", reason FROM {NS}.cdr_quarantine WHERE topic = '{topic}'",
    )
    quarantined = {(int(p), int(o)): reason for p, o, reason in rows}
    assert len(rows) == len(quarantined) == len(bad)
    wrong = {
        case.label: quarantined.get(where)
        for case, where in zip(cases, coordinates, strict=True)
        if not case.valid and not (quarantined.get(where) or "").startswith(case.reason or "")
    }
    assert not wrong, list(wrong.items())[:10]
    assert all(quarantined.values())

    # ...and on the dead-letter topic, with the same reason.
    keys = {f"{topic}:{p}:{o}" for (p, o) in quarantined}
    letters = _dead_letters(settings, topic, keys)
    assert {key: letter["reason"] for key, letter in letters.items()} == {
        f"{topic}:{p}:{o}": reason for (p, o), reason in quarantined.items()
    }
    # A letter quotes the start of its message and gives its size, however large the message.
    for case, (p, o) in zip(cases, coordinates, strict=True):
        letter = letters.get(f"{topic}:{p}:{o}")
        if letter is not None and case.value is not None:
            quoted = base64.b64decode(letter["value_base64"])
            assert letter["value_bytes"] == len(case.value) and case.value.startswith(quoted), case.label
            assert len(quoted) == min(len(case.value), DEAD_LETTER_VALUE_BYTES), case.label
