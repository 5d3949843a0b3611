"""Who may do what on the managed Kafka broker: the producer and stream users and their ACLs.

The broker denies whatever no ACL allows (``allow.everyone.if.no.acl.found=false``) and its only
super user is the admin, whose SCRAM credential is written when the storage is formatted
(``infra.services.kafka``). Connected as the admin, the launcher then creates (or updates, so a
new password in .env takes effect at the next `up`) the other identities' SCRAM credentials and
adds their ACLs; creating an ACL that exists is a no-op, so all of it runs on every `up`.

- ``producer`` (generator, live producer): WRITE and DESCRIBE on the CDR topic. Its idempotent
  producer needs no IdempotentWrite on the cluster: since Kafka 3.0 WRITE on a topic suffices.
- ``stream`` (the Spark job): READ on the CDR topic (READ implies DESCRIBE: offsets, metadata),
  WRITE on the dead-letter and alerts topics, READ on its consumer groups (the prefix the job
  gives Spark's generated group ids) and on the lag reader's group.

A CDR topic other than the configured one (tests, benchmarks: ``lakehouse stream run --topic``)
gets the same topic ACLs through :func:`grant_topic`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from core import clients
from core.kafka_auth import KafkaIdentity
from core.settings import LakehouseSettings

if TYPE_CHECKING:
    from confluent_kafka.admin import AclBinding, AdminClient

# SCRAM's PBKDF2 rounds: above the 4096 minimum, still quick for a client to authenticate.
SCRAM_ITERATIONS = 8192
# How long new credentials and ACLs may take to reach the broker from its controller.
PROPAGATION_TIMEOUT_S = 30.0


class KafkaAccessError(Exception):
    """Creating a user or an ACL failed, or an identity still cannot use its topic."""


def _admin(settings: LakehouseSettings) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient(clients.kafka_config(settings, "admin"))


def _allow(principal: str, resource: str, name: str, operation: str, prefixed: bool = False) -> AclBinding:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return AclBinding(
        ResourceType[resource],
        name,
        ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL,
        principal,
        "*",  # any host: every client connects over loopback anyway
        AclOperation[operation],
        AclPermissionType.ALLOW,
    )


def topic_acls(settings: LakehouseSettings, topic: str) -> list[AclBinding]:
    """The producer's and the stream's ACLs on the CDR topic ``topic``."""
    k = settings.kafka
    producer, stream = f"User:{k.producer_user}", f"User:{k.stream_user}"
    return [
        _allow(producer, "TOPIC", topic, "WRITE"),
        _allow(producer, "TOPIC", topic, "DESCRIBE"),
        _allow(stream, "TOPIC", topic, "READ"),
    ]


def stream_output_acls(settings: LakehouseSettings) -> list[AclBinding]:
    """The stream's ACLs beside its CDR topic: its outputs and its consumer groups."""
    k = settings.kafka
    stream = f"User:{k.stream_user}"
    return [
        _allow(stream, "TOPIC", k.dead_letter_topic, "WRITE"),
        _allow(stream, "TOPIC", k.alerts_topic, "WRITE"),
        _allow(stream, "GROUP", k.stream_group_prefix, "READ", prefixed=True),
        _allow(stream, "GROUP", k.lag_group, "READ"),
    ]


def _create_acls(settings: LakehouseSettings, acls: Iterable[AclBinding]) -> None:
    admin = _admin(settings)  # referenced until the futures resolve: a freed client fails them
    for acl, future in admin.create_acls(list(acls), request_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            raise KafkaAccessError(f"creating the ACL {acl} failed: {exc}") from exc


def upsert_users(settings: LakehouseSettings) -> None:
    """Create the producer's and stream's SCRAM credentials, or set their current passwords."""
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    k = settings.kafka
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [
        UserScramCredentialUpsertion(k.user(identity), info, k.require_password(identity).encode())
        for identity in ("producer", "stream")
    ]
    admin = _admin(settings)
    for user, future in admin.alter_user_scram_credentials(upserts, request_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            raise KafkaAccessError(f"creating the SCRAM credential of {user!r} failed: {exc}") from exc


def can_describe(settings: LakehouseSettings, identity: KafkaIdentity, topic: str) -> bool:
    """Whether ``identity`` authenticates and sees ``topic`` in the broker's metadata."""
    from confluent_kafka.admin import AdminClient

    try:
        metadata = AdminClient(clients.kafka_config(settings, identity)).list_topics(topic, timeout=5)
    except Exception:  # noqa: BLE001 - not yet authenticated (or authorised) is "no" here
        return False
    found = metadata.topics.get(topic)
    return found is not None and found.error is None


def await_access(settings: LakehouseSettings, topic: str) -> None:
    """Wait until the producer and the stream may use ``topic``: credentials and ACLs reach the
    broker through its metadata log, a moment after the controller accepted them."""
    for identity in ("producer", "stream"):
        try:
            Retrying(
                stop=stop_after_delay(PROPAGATION_TIMEOUT_S),
                wait=wait_fixed(0.5),
                retry=retry_if_result(lambda ok: not ok),
            )(can_describe, settings, identity, topic)
        except RetryError:
            raise KafkaAccessError(
                f"{settings.kafka.user(identity)!r} still cannot authenticate or describe {topic} "
                f"{PROPAGATION_TIMEOUT_S:.0f}s after its credential and ACLs were created"
            ) from None


def grant_topic(settings: LakehouseSettings, topic: str) -> None:
    """Give the producer and the stream their ACLs on another CDR topic ``topic``; returns once
    both may use it."""
    _create_acls(settings, topic_acls(settings, topic))
    await_access(settings, topic)


def revoke_topic(settings: LakehouseSettings, topic: str) -> None:
    """Remove every ACL on ``topic`` (a throwaway topic being deleted)."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    everything = AclBindingFilter(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = _admin(settings)
    for future in admin.delete_acls([everything], request_timeout=30).values():
        future.result()


def provision_identities(settings: LakehouseSettings) -> None:
    """Users, then ACLs on the configured topics; returns once both identities may use them."""
    upsert_users(settings)
    _create_acls(settings, [*topic_acls(settings, settings.kafka.cdr_topic), *stream_output_acls(settings)])
    await_access(settings, settings.kafka.cdr_topic)
