"""Monitoring: Prometheus, Alertmanager, the PostgreSQL exporter and where alerts go.

``core.settings`` mounts this as ``LakehouseSettings.monitoring``
(``LAKEHOUSE_MONITORING__PROMETHEUS__PORT``, ``LAKEHOUSE_MONITORING__WEBHOOK_URL`` and so on).
Each server is a ServiceSettings: ``managed=false`` points at an existing one instead.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl, SecretStr

from core.service_settings import ServiceSettings


class PrometheusSettings(ServiceSettings):
    """Prometheus: scrapes every service and evaluates the alert rules."""

    port: int = Field(9090, ge=1, le=65535, description="HTTP port of the API and classic UI.")
    # A local platform: short intervals so an alert fires within seconds, not minutes.
    scrape_interval_s: int = Field(5, ge=1, le=3600, description="Seconds between scrapes.")
    evaluation_interval_s: int = Field(5, ge=1, le=3600, description="Seconds between rule evaluations.")
    retention: str = Field("7d", pattern=r"^[0-9]+[smhdwy]$", description="How long samples are kept.")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class AlertmanagerSettings(ServiceSettings):
    """Alertmanager: groups the alerts and sends them to the webhook receiver."""

    # 9093 is Kafka's controller here; 9094 (clustering) is disabled, never bound.
    port: int = Field(9095, ge=1, le=65535, description="HTTP port of the API.")
    group_wait_s: int = Field(1, ge=0, le=3600, description="Wait before a new group's first notice.")
    group_interval_s: int = Field(30, ge=1, le=86_400, description="Wait before a group's next notice.")
    repeat_interval: str = Field("4h", pattern=r"^[0-9]+[smhdw]$", description="Resend a firing alert.")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class PostgresExporterSettings(ServiceSettings):
    """prometheus-postgres-exporter, logged in as a pg_monitor role (never the superuser)."""

    port: int = Field(9187, ge=1, le=65535, description="HTTP port of its /metrics.")
    db_user: str = Field("lakehouse_monitor", pattern=r"^[a-z][a-z0-9_]*$", description="pg_monitor role.")
    db_password: SecretStr = SecretStr("")


class ExporterSettings(ServiceSettings):
    """The lakehouse exporter (``infra.exporter``): our own code's metrics, Kafka lag, disk."""

    port: int = Field(9466, ge=1, le=65535, description="HTTP port of its /metrics.")


class KafkaJmxSettings(BaseModel):
    """The Prometheus JMX agent inside the Kafka broker's JVM (served on Kafka's host)."""

    port: int = Field(9467, ge=1, le=65535, description="HTTP port of the broker's /metrics.")


class AlertThresholds(BaseModel):
    """The numbers in the alert rules (``infra/monitoring/rules.yml`` names each as @field@)."""

    stream_stalled_s: int = Field(
        300, ge=5, le=86_400, description="Seconds without a commit while records wait: StreamStalled."
    )
    stream_lag_records: int = Field(
        100_000, ge=1, description="Records behind on a topic for 2 minutes: StreamLagHigh."
    )
    quarantine_share: float = Field(
        0.05, gt=0, lt=1, description="Share of the stream's rows quarantined in 10 minutes."
    )
    network_alert_burst: int = Field(20, ge=1, description="Real-time network alerts in 5 minutes.")
    pipeline_stale_h: int = Field(26, ge=1, le=24 * 365, description="Hours without a successful run.")
    disk_free_share: float = Field(
        0.10, gt=0, lt=1, description="Free share of the state dir's file system: DiskFilling."
    )


class MonitoringSettings(BaseModel):
    """Everything monitoring; the receiver is the user's to configure."""

    enabled: bool = Field(True, description="Start and scrape the monitoring services with `lakehouse up`.")
    prometheus: PrometheusSettings = PrometheusSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    postgres_exporter: PostgresExporterSettings = PostgresExporterSettings()
    exporter: ExporterSettings = ExporterSettings()
    kafka_jmx: KafkaJmxSettings = KafkaJmxSettings()
    thresholds: AlertThresholds = AlertThresholds()
    webhook_url: HttpUrl | None = Field(
        None,
        description="Alertmanager posts every alert here (its webhook JSON); none: alerts are only "
        "visible in Prometheus and Alertmanager.",
    )
