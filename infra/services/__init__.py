"""The services of the stack, one module each, behind :class:`infra.services.base.Service`."""

from __future__ import annotations

from core.settings import LakehouseSettings
from infra.artifacts import ArtifactCache
from infra.services.alertmanager import AlertmanagerService
from infra.services.base import Health, Port, Service
from infra.services.kafka import KafkaService
from infra.services.lakehouse_exporter import LakehouseExporterService
from infra.services.minio import MinioService
from infra.services.postgres import PostgresService
from infra.services.postgres_exporter import PostgresExporterService
from infra.services.prometheus import PrometheusService
from infra.services.superset import SupersetService
from infra.services.trino import TrinoService

# Dependency order: the catalog database and the object store before Trino; Kafka stands alone;
# monitoring next (the exporters wait for PostgreSQL and Kafka); Superset last (it waits for PostgreSQL,
# and starting it takes the longest).
SERVICE_TYPES: tuple[type[Service], ...] = (
    PostgresService,
    MinioService,
    TrinoService,
    KafkaService,
    AlertmanagerService,
    PrometheusService,
    PostgresExporterService,
    LakehouseExporterService,
    SupersetService,
)
SERVICE_NAMES = tuple(t.name for t in SERVICE_TYPES)


def build_services(settings: LakehouseSettings, artifacts: ArtifactCache | None = None) -> list[Service]:
    """All services in dependency order."""
    cache = artifacts or ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository)
    return [service_type(settings, cache) for service_type in SERVICE_TYPES]


__all__ = ["SERVICE_NAMES", "Health", "Port", "Service", "build_services"]
