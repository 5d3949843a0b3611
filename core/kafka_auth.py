"""How Kafka clients authenticate: the identities and their settings (part of KafkaSettings).

Every client of ours connects as one identity: ``admin`` (the launcher; the broker's only super
user), ``producer`` (writes the CDR topic) or ``stream`` (the Spark job: reads the CDR topic,
writes dead letters and alerts). SECURITY.md, "Kafka: who may produce and consume", says what
each may do. The fields are KafkaSettings' own (``LAKEHOUSE_KAFKA__PRODUCER_PASSWORD``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from core.exceptions import ENV_PREFIX, ConfigError, FieldValueError

KafkaIdentity = Literal["admin", "producer", "stream"]
KAFKA_IDENTITIES: tuple[KafkaIdentity, ...] = ("admin", "producer", "stream")
# What the managed broker's SCRAM bootstrap and JAAS files can carry unquoted: token_urlsafe's
# alphabet and base64's (a comma, quote or bracket would end the value early).
_KAFKA_PASSWORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.+/=-")
KAFKA_PASSWORD_MIN_LENGTH = 16  # characters, for the managed broker; `lakehouse up` generates 32


class KafkaAuthSettings(BaseModel):
    """Protocol, mechanism and identities of Kafka's clients (mixed into KafkaSettings, whose
    ``managed`` the validation reads)."""

    security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"] = Field(
        "SASL_PLAINTEXT", description="How clients connect; the managed broker takes SASL_PLAINTEXT only."
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of every identity; the managed broker: SCRAM-SHA-512."
    )
    admin_user: str = Field("admin", pattern=r"^[A-Za-z0-9._@-]+$")
    admin_password: SecretStr = SecretStr("")
    producer_user: str = Field("producer", pattern=r"^[A-Za-z0-9._@-]+$")
    producer_password: SecretStr = SecretStr("")
    stream_user: str = Field("stream", pattern=r"^[A-Za-z0-9._@-]+$")
    stream_password: SecretStr = SecretStr("")
    # Spark's Kafka source names its consumer groups <prefix>-<uuid>-...: a known prefix lets
    # one prefixed ACL cover them (the default prefix, spark-kafka-source, is anyone's).
    stream_group_prefix: str = Field("lakehouse-stream", pattern=r"^[A-Za-z0-9._-]+$")
    lag_group: str = Field("lakehouse-lag", pattern=r"^[A-Za-z0-9._-]+$")

    @model_validator(mode="after")
    def _managed_broker_is_authenticated(self) -> KafkaAuthSettings:
        if not getattr(self, "managed", False):
            return self  # an external cluster: its operators chose protocol, mechanism and users
        if self.security_protocol != "SASL_PLAINTEXT":
            raise FieldValueError(
                "security_protocol",
                "the managed broker accepts SASL_PLAINTEXT only (allowed: SASL_PLAINTEXT; "
                "set kafka.managed=false for an external broker with SASL_SSL or PLAINTEXT)",
                self.security_protocol,
            )
        if self.sasl_mechanism != "SCRAM-SHA-512":
            raise FieldValueError(
                "sasl_mechanism",
                "the managed broker authenticates with SCRAM-SHA-512 only (allowed: SCRAM-SHA-512)",
                self.sasl_mechanism,
            )
        users = [self.admin_user, self.producer_user, self.stream_user]
        if len(set(users)) != len(users):
            raise FieldValueError(
                "producer_user",
                "admin_user, producer_user and stream_user must differ: each has its own ACLs",
                users,
            )
        for identity in KAFKA_IDENTITIES:
            password = self.password(identity).get_secret_value()
            if password and (
                len(password) < KAFKA_PASSWORD_MIN_LENGTH or not set(password) <= _KAFKA_PASSWORD_CHARS
            ):
                raise FieldValueError(
                    f"{identity}_password",
                    f"a managed broker's password must be at least {KAFKA_PASSWORD_MIN_LENGTH} "
                    "characters of A-Z a-z 0-9 and _~.+/=- (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(24))' makes one)",
                    self.password(identity),  # masked
                )
        return self

    @property
    def authenticated(self) -> bool:
        """Whether clients authenticate (SASL) or connect anonymously (PLAINTEXT, external only)."""
        return self.security_protocol.startswith("SASL_")

    def user(self, identity: KafkaIdentity) -> str:
        """The Kafka user name of ``identity``."""
        return str(getattr(self, f"{identity}_user"))

    def password(self, identity: KafkaIdentity) -> SecretStr:
        """The password of ``identity`` as set (empty when unset)."""
        value = getattr(self, f"{identity}_password")
        assert isinstance(value, SecretStr)
        return value

    def require_password(self, identity: KafkaIdentity) -> str:
        """The password of ``identity``; ConfigError naming its variable when it is unset."""
        password = self.password(identity).get_secret_value()
        if not password:
            variable = f"{ENV_PREFIX}KAFKA__{identity.upper()}_PASSWORD"
            raise ConfigError(
                f"{variable} is not set: Kafka clients authenticate as {identity!r} "
                f"({self.sasl_mechanism}). Set it in .env or the environment (`lakehouse up` "
                "generates the managed broker's passwords into .env)"
            )
        return password
