"""The services of the stack, one module each, behind :class:`infra.services.base.Service`."""

from __future__ import annotations

from core.settings import LakehouseSettings
from infra.artifacts import ArtifactCache
from infra.services.alertmanager import AlertmanagerService
from infra.services.base import Health, Port, Service
from infra.services.kafka import KafkaService
from infra.services.lakehouse_exporter import LakehouseExporterService
from infra.services.minio import MinioService
from infra.services.object_store import ObjectStoreService
from infra.services.postgres import PostgresService
from infra.services.postgres_exporter import PostgresExporterService
from infra.services.prometheus import PrometheusService
from infra.services.superset import SupersetService
from infra.services.trino import TrinoService
from infra.services.versitygw import VersitygwService

# The S3 servers, by the value of LAKEHOUSE_S3__SERVER that selects each.
OBJECT_STORE_TYPES: dict[str, type[ObjectStoreService]] = {
    "minio": MinioService,
    "versitygw": VersitygwService,
}
# Dependency order: the catalog database and the object store before Trino; Kafka stands alone;
# monitoring next (the exporters wait for PostgreSQL and Kafka); Superset last (it waits for PostgreSQL,
# and starting it takes the longest). The object store's slot is filled by the configured server.
SERVICE_TYPES: tuple[type[Service], ...] = (
    PostgresService,
    ObjectStoreService,
    TrinoService,
    KafkaService,
    AlertmanagerService,
    PrometheusService,
    PostgresExporterService,
    LakehouseExporterService,
    SupersetService,
)
# Every name a service can have (`lakehouse status <name>`): both servers' included.
SERVICE_NAMES = tuple(
    name for t in SERVICE_TYPES for name in (OBJECT_STORE_TYPES if t is ObjectStoreService else {t.name: t})
)


def object_store_type(settings: LakehouseSettings) -> type[ObjectStoreService]:
    """The S3 server the settings select (MinIO unless ``LAKEHOUSE_S3__SERVER`` says otherwise)."""
    return OBJECT_STORE_TYPES[settings.s3.server]


def build_services(settings: LakehouseSettings, artifacts: ArtifactCache | None = None) -> list[Service]:
    """All services in dependency order."""
    cache = artifacts or ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository)
    types = [object_store_type(settings) if t is ObjectStoreService else t for t in SERVICE_TYPES]
    return [service_type(settings, cache) for service_type in types]


__all__ = [
    "SERVICE_NAMES",
    "Health",
    "ObjectStoreService",
    "Port",
    "Service",
    "build_services",
    "object_store_type",
]
