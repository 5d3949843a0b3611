"""Settings every service section shares, and the object store's section with its identities.

Least privilege in storage: each engine signs its S3 requests as its own identity, allowed only
the warehouse bucket. The S3 server's root identity, when the launcher runs the server (MinIO or
versitygw), is the launcher's alone: it starts the server with it and creates the bucket, the
users and their access.
``core.settings`` re-exports these classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from core.exceptions import ENV_PREFIX, ConfigError, FieldValueError

ROOT_PASSWORD_VARIABLE = f"{ENV_PREFIX}S3__ROOT_PASSWORD"
# MinIO refuses shorter keys (access key: 3 characters, secret: 8); versitygw is held to the same.
MIN_ACCESS_KEY_LENGTH, MIN_SECRET_LENGTH = 3, 8

# Who signs S3 requests: our Python code (PyIceberg in the generator, the pipeline, the tests and
# the launcher's checks), Trino, Spark, and the read-only identity of people and file tools.
Engine = Literal["lakehouse", "trino", "spark", "reader"]
ENGINES: tuple[Engine, ...] = ("lakehouse", "trino", "spark", "reader")
# The S3 servers the launcher can run (the service of that name in infra/services/).
S3Server = Literal["minio", "versitygw"]


def _variable(field: str) -> str:
    return f"{ENV_PREFIX}S3__{field.upper()}"


class ServiceSettings(BaseModel):
    """What every service endpoint has in common."""

    managed: bool = Field(True, description="Start this service locally; false = use an external one.")
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


@dataclass(frozen=True)
class S3Identity:
    """One S3 key pair, with the variable that sets its secret (for messages and Trino's env)."""

    engine: str
    access_key: str
    secret_key: SecretStr  # masked in repr and logs
    variable: str

    def secret(self) -> str:
        """The secret key itself, for the one client that signs with it."""
        return self.secret_key.get_secret_value()


class S3Settings(ServiceSettings):
    """S3-compatible object store holding the warehouse bucket.

    Managed: the launcher starts ``server`` (MinIO or versitygw) as ``root_user`` and provisions
    one user per engine, each limited to the bucket (the reader: list and read only); every
    secret is generated into ``.env``. External: give scoped keys; an engine whose secret is
    unset signs with ``access_key``/``secret_key``, and the root fields and ``server`` are not used.
    """

    server: S3Server = Field(
        "minio",
        description="The S3 server the launcher runs when managed: minio or versitygw (POSIX backend).",
    )
    port: int = Field(9000, ge=1, le=65535)
    console_port: int = Field(9001, ge=1, le=65535, description="MinIO's web console (MinIO only).")
    scheme: Literal["http", "https"] = "http"
    access_key: str = Field(
        "lakehouse",
        description="Our Python code's identity (generator, pipeline, tests); external: the fallback.",
    )
    secret_key: SecretStr = SecretStr("")
    trino_access_key: str = Field("lakehouse-trino", description="Trino's identity (catalog iceberg).")
    trino_secret_key: SecretStr = SecretStr("")
    spark_access_key: str = Field("lakehouse-spark", description="The streaming job's identity.")
    spark_secret_key: SecretStr = SecretStr("")
    reader_access_key: str = Field(
        "lakehouse-reader",
        description="Read-only identity: people and file tools, Trino's read-only catalog, health checks.",
    )
    reader_secret_key: SecretStr = SecretStr("")
    root_user: str = Field(
        "lakehouse-root", description="The S3 server's root user (managed; launcher only)."
    )
    root_password: SecretStr = Field(
        SecretStr(""), description="The S3 server's root password (launcher only)."
    )
    region: str = "us-east-1"
    bucket: str = "warehouse"

    @model_validator(mode="after")
    def _server_accepts_the_keys(self) -> S3Settings:
        if not self.managed:
            return self  # an external store has its own rules; its keys are the user's
        seen: dict[str, str] = {}
        for field in ("root_user", "access_key", *(f"{e}_access_key" for e in ENGINES[1:])):
            name = getattr(self, field)
            if len(name) < MIN_ACCESS_KEY_LENGTH:
                raise FieldValueError(
                    field, f"the S3 server needs at least {MIN_ACCESS_KEY_LENGTH} characters", name
                )
            if name in seen:
                # One S3 user cannot be two identities: each needs its own policy and secret.
                raise FieldValueError(field, f"the same access key as {_variable(seen[name])}", name)
            seen[name] = field
        for field in ("root_password", "secret_key", *(f"{e}_secret_key" for e in ENGINES[1:])):
            value: SecretStr = getattr(self, field)
            if 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH:
                raise FieldValueError(
                    field, f"the S3 server needs at least {MIN_SECRET_LENGTH} characters", value
                )
        return self

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def warehouse(self) -> str:
        return f"s3://{self.bucket}/"

    def identity(self, engine: Engine) -> S3Identity:
        """The key pair ``engine`` signs with.

        Raises ConfigError naming the variable when its secret is unset: managed, every engine
        has its own (generated by `lakehouse up`); external, an engine without one falls back to
        ``access_key``/``secret_key``, unless its own access key was given without a secret.
        """
        if engine == "lakehouse":
            return self._require("lakehouse", "access_key", "secret_key")
        own = self._identity(engine, f"{engine}_access_key", f"{engine}_secret_key")
        if own.secret():
            return own
        if self.managed:
            raise ConfigError(
                f"{own.variable} is not set: the managed {self.server} gives {engine} an identity "
                "of its own; `lakehouse up` generates it into .env"
            )
        if f"{engine}_access_key" in self.model_fields_set:
            raise ConfigError(f"{_variable(engine + '_access_key')} is set but {own.variable} is not")
        return self.identity("lakehouse")

    def root(self) -> S3Identity:
        """The managed S3 server's root identity, for the launcher alone (start it, provision it)."""
        return self._require("root", "root_user", "root_password")

    def _identity(self, engine: str, access_field: str, secret_field: str) -> S3Identity:
        secret: SecretStr = getattr(self, secret_field)
        return S3Identity(engine, getattr(self, access_field), secret, _variable(secret_field))

    def _require(self, engine: str, access_field: str, secret_field: str) -> S3Identity:
        identity = self._identity(engine, access_field, secret_field)
        if not identity.secret():
            raise ConfigError(f"{identity.variable} is not set; `lakehouse up` generates it into .env")
        return identity
