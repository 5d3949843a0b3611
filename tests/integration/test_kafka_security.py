"""Kafka on the real stack: who may connect, produce and consume (SECURITY.md, "Kafka").

Every refusal is checked beside the same operation done by the identity that may do it, so a
test cannot pass because the broker was simply unreachable.
"""

from __future__ import annotations

import json
from typing import Any

import psutil
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from core import clients
from core.kafka_auth import KAFKA_IDENTITIES, KafkaIdentity
from core.settings import LakehouseSettings
from generator.config import load_config, scale_to_rows
from generator.run import Generation
from infra import kafka_access
from infra.launcher import Launcher
from ingestion.kafka_sink import CdrProducer, event_messages
from tests.integration.conftest import unique

pytestmark = pytest.mark.integration


def anonymous(settings: LakehouseSettings, **extra: Any) -> dict[str, Any]:
    """A client that does not authenticate (what any local process could try)."""
    return {"bootstrap.servers": settings.kafka.bootstrap_servers, "security.protocol": "PLAINTEXT", **extra}


def produce_one(config: dict[str, Any], topic: str, key: bytes, value: bytes) -> Any:
    """Produce one message; the delivery report's (error, message)."""
    reports: list[tuple[KafkaError | None, Any]] = []
    producer = Producer({"message.timeout.ms": 10_000, **config})
    producer.produce(topic, key=key, value=value, on_delivery=lambda e, m: reports.append((e, m)))
    producer.flush(30)
    assert len(reports) == 1, "no delivery report within the message timeout"
    return reports[0]


def read_at(
    settings: LakehouseSettings,
    identity: KafkaIdentity,
    topic: str,
    partition: int,
    offset: int,
    seconds: int = 30,
) -> tuple[Any, set[int]]:
    """The message at ``topic``/``partition``/``offset`` read as ``identity`` within ``seconds``
    (None if none came), and the codes of the errors the client reported meanwhile."""
    group = f"{settings.kafka.stream_group_prefix}-{unique('it')}"  # a group the stream may use
    config = clients.kafka_config(settings, identity, **{"group.id": group, "enable.auto.commit": False})
    consumer = Consumer(config)
    consumer.assign([TopicPartition(topic, partition, offset)])
    errors: set[int] = set()
    try:
        for _ in range(seconds):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                return message, errors
            if message is not None:
                errors.add(message.error().code())
        return None, errors
    finally:
        consumer.close()


def valid_event(prefix: str) -> tuple[bytes, bytes]:
    """One CDR in the documented format, whose record id is ours (other tests ignore it)."""
    generation = Generation(scale_to_rows(load_config(days=1, subscribers=300, seed=3), 10))
    batch = next(b for b, _ in generation.batches()).slice(0, 1)
    keys, values = event_messages(batch)
    event = json.loads(values[0])
    event["record_id"] = f"{prefix}-0"
    return keys[0] or b"", json.dumps(event).encode()


@pytest.fixture(scope="module")
def granted_topic(settings: LakehouseSettings) -> str:
    """A fresh CDR-like topic with the producer's and stream's topic ACLs, for exact counts."""
    topic = unique("it.sec")
    admin = AdminClient(clients.kafka_config(settings, "admin"))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    kafka_access.grant_topic(settings, topic)
    return topic


def high_watermark(settings: LakehouseSettings, topic: str) -> int:
    consumer = Consumer(clients.kafka_config(settings, "admin", **{"group.id": unique("hw")}))
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        consumer.close()


def test_an_unauthenticated_client_can_neither_list_topics_nor_produce(
    settings: LakehouseSettings, granted_topic: str
) -> None:
    # The admin lists the topics over the same listener: the broker is up.
    assert (
        settings.kafka.cdr_topic
        in AdminClient(clients.kafka_config(settings, "admin")).list_topics(timeout=10).topics
    )
    with pytest.raises(KafkaException):
        AdminClient(anonymous(settings)).list_topics(timeout=5)

    before = high_watermark(settings, granted_topic)
    error, _ = produce_one(anonymous(settings), granted_topic, b"k", b"anonymous")
    assert error is not None and error.code() == KafkaError._MSG_TIMED_OUT, error
    assert high_watermark(settings, granted_topic) == before, "an anonymous message reached the topic"
    # The producer identity, same topic, same broker: delivered.
    error, message = produce_one(clients.kafka_config(settings, "producer"), granted_topic, b"k", b"producer")
    assert error is None and message.offset() == before


@pytest.mark.parametrize("user", ["producer", "nobody"])
def test_a_wrong_password_or_unknown_user_is_refused(settings: LakehouseSettings, user: str) -> None:
    errors: list[KafkaError] = []
    config = {
        **clients.kafka_config(settings, "producer"),
        "sasl.username": user,
        "sasl.password": "not-the-password-0123456789",
        "error_cb": errors.append,
    }
    admin = AdminClient(config)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(0)  # serve the error callback
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert any("invalid credentials" in e.str() for e in errors), errors


def test_the_producer_writes_cdr_events_but_reads_no_dead_letter_and_writes_no_alert(
    settings: LakehouseSettings,
) -> None:
    k = settings.kafka
    # The producer's path of our own code (CdrProducer, as `generate --to kafka` uses it).
    producer = CdrProducer(settings)
    key, value = valid_event(unique("sec-cdr"))
    producer.send_raw(key, value)
    assert producer.flush(30) == 1

    # The dead-letter topic: the admin writes one letter and reads it back; the producer may
    # neither see the topic nor fetch that letter.
    letter_key = unique("it-security").encode()
    error, letter = produce_one(
        clients.kafka_config(settings, "admin"), k.dead_letter_topic, letter_key, b"{}"
    )
    assert error is None
    read, _ = read_at(settings, "admin", k.dead_letter_topic, letter.partition(), letter.offset())
    assert read is not None and read.key() == letter_key
    seen = AdminClient(clients.kafka_config(settings, "producer")).list_topics(
        k.dead_letter_topic, timeout=10
    )
    described = seen.topics[k.dead_letter_topic].error
    assert described is not None, "the producer may describe the dead-letter topic"
    assert described.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, described
    # Its fetch gets nothing (librdkafka reports the group it may not use either; not a topic
    # error: it waits for metadata it is refused), where the admin's got the letter at once.
    refused, errors = read_at(
        settings, "producer", k.dead_letter_topic, letter.partition(), letter.offset(), seconds=8
    )
    authorization = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
    assert refused is None and errors and errors <= authorization, errors

    alert = json.dumps({"network_element_id": "ACL-TEST", "alert_type": "acl_test"}).encode()
    error, _ = produce_one(clients.kafka_config(settings, "producer"), k.alerts_topic, b"acl-test", alert)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_the_stream_reads_cdr_events_and_writes_dead_letters_and_alerts(settings: LakehouseSettings) -> None:
    k = settings.kafka
    key, value = valid_event(unique("sec-stream"))
    error, event = produce_one(clients.kafka_config(settings, "producer"), k.cdr_topic, key, value)
    assert error is None
    read, errors = read_at(settings, "stream", k.cdr_topic, event.partition(), event.offset())
    assert read is not None and read.value() == value, errors

    stream = clients.kafka_config(settings, "stream")
    for topic, message in [
        (k.dead_letter_topic, json.dumps({"reason": "acl_test"}).encode()),
        (k.alerts_topic, json.dumps({"network_element_id": "ACL-TEST", "alert_type": "acl_test"}).encode()),
    ]:
        marker = unique("it-security").encode()
        error, written = produce_one(stream, topic, marker, message)
        assert error is None, (topic, error)
        read, errors = read_at(settings, "admin", topic, written.partition(), written.offset())
        assert read is not None and read.key() == marker, errors
    # ... but writes no CDR: only the producer feeds the job.
    error, _ = produce_one(stream, k.cdr_topic, key, value)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_only_the_admin_may_create_topics(settings: LakehouseSettings) -> None:
    topic = unique("it.sec-create")
    for identity in ("producer", "stream"):
        admin = AdminClient(clients.kafka_config(settings, identity))
        with pytest.raises(KafkaException) as refused:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    admin = AdminClient(clients.kafka_config(settings, "admin"))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    admin.delete_topics([topic])[topic].result(30)


def test_no_kafka_password_on_a_command_line_in_a_config_file_or_in_a_log(launcher: Launcher) -> None:
    settings = launcher.settings
    passwords = {i: settings.kafka.require_password(i) for i in KAFKA_IDENTITIES}
    broker = psutil.Process(launcher.service("kafka").process.pid())
    assert "kafka.Kafka" in broker.cmdline()  # the broker is among the processes scanned
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        leaked = [i for i, p in passwords.items() if p in line]
        assert not leaked, f"the {leaked} password on the command line of pid {process.pid}"

    broker_log = (settings.logs_dir / "kafka.log").read_text(errors="replace")
    # The broker logged its configuration (with the authorizer on) and no password.
    assert "super.users=User:admin, default result=DENIED" in broker_log
    for path in [*settings.logs_dir.rglob("*"), *settings.conf_dir.joinpath("kafka").rglob("*")]:
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = [i for i, p in passwords.items() if p in text]
            assert not leaked, f"the {leaked} password in {path}"


def test_an_external_broker_is_reached_with_the_same_settings(launcher: Launcher) -> None:
    # managed=false: the launcher leaves the broker alone and connects as the configured admin.
    external = launcher.settings.model_copy(
        update={"kafka": launcher.settings.kafka.model_copy(update={"managed": False})}
    )
    kafka = Launcher(external).service("kafka")
    assert not kafka.managed
    health = kafka.check()
    assert health.ok, health.detail
    kafka.provision()  # topics exist: nothing to do, and no user or ACL is touched
    assert kafka_access.can_describe(external, "producer", external.kafka.cdr_topic)
