"""Rendered server configs: one catalog name everywhere, loopback binds, no secrets on disk."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import LakehouseSettings
from infra.services.kafka import new_cluster_id, render_server_properties
from infra.services.trino import access_rules, node_properties, render_config

ETC, PEM = Path("/etc/trino"), Path("/tls/trino.pem")


def _settings(s3: dict[str, object] | None = None, **overrides: object) -> LakehouseSettings:
    return LakehouseSettings(
        _env_file=None,
        postgres={"password": "pg-secret-value", "port": 15433},
        s3=s3
        or {
            "secret_key": "s3-secret-value",
            "trino_secret_key": "s3-trino-secret-value",
            "reader_secret_key": "s3-reader-secret-value",
            "root_password": "s3-root-secret-value",
            "port": 19000,
        },
        **overrides,
    )


def test_trino_catalog_uses_the_shared_catalog_name_and_endpoints() -> None:
    settings = _settings(catalog={"name": "telco"})
    catalog = render_config(settings, ETC, PEM)["catalog/iceberg.properties"]
    assert "iceberg.jdbc-catalog.catalog-name=telco" in catalog
    assert "connection-url=jdbc:postgresql://127.0.0.1:15433/iceberg_catalog" in catalog
    assert "s3.endpoint=http://127.0.0.1:19000" in catalog
    assert "default-warehouse-dir=s3://warehouse/" in catalog


def test_trino_config_holds_no_secret_values() -> None:
    rendered = "\n".join(
        render_config(_settings(trino={"password": "trino-secret-value"}), ETC, PEM).values()
    )
    assert "pg-secret-value" not in rendered
    assert "secret-value" not in rendered
    assert "internal-communication.shared-secret=${ENV:LAKEHOUSE_TRINO__SHARED_SECRET}" in rendered
    assert "${ENV:LAKEHOUSE_POSTGRES__PASSWORD}" in rendered


def test_each_trino_catalog_signs_s3_requests_as_its_own_identity_never_root() -> None:
    files = render_config(_settings(), ETC, PEM)
    writable, read_only = files["catalog/iceberg.properties"], files["catalog/iceberg_readonly.properties"]
    assert "s3.aws-access-key=lakehouse-trino\n" in writable
    assert "s3.aws-secret-key=${ENV:LAKEHOUSE_S3__TRINO_SECRET_KEY}" in writable
    # The read-only catalog never writes: the reader identity makes the object store refuse it too.
    assert "s3.aws-access-key=lakehouse-reader\n" in read_only
    assert "s3.aws-secret-key=${ENV:LAKEHOUSE_S3__READER_SECRET_KEY}" in read_only
    rendered = "\n".join(files.values())
    assert "lakehouse-root" not in rendered
    assert "ROOT_PASSWORD" not in rendered


def test_trino_with_an_external_s3_uses_the_common_key_unless_given_its_own() -> None:
    s3 = {"managed": False, "access_key": "team-key", "secret_key": "team-secret-value"}
    catalog = render_config(_settings(s3=s3), ETC, PEM)["catalog/iceberg.properties"]
    assert "s3.aws-access-key=team-key\n" in catalog
    assert "s3.aws-secret-key=${ENV:LAKEHOUSE_S3__SECRET_KEY}" in catalog
    own = {**s3, "trino_access_key": "trino-key", "trino_secret_key": "trino-secret-value"}
    catalog = render_config(_settings(s3=own), ETC, PEM)["catalog/iceberg.properties"]
    assert "s3.aws-access-key=trino-key\n" in catalog
    assert "s3.aws-secret-key=${ENV:LAKEHOUSE_S3__TRINO_SECRET_KEY}" in catalog


def test_trino_binds_the_configured_host_and_sizes_memory_below_heap() -> None:
    settings = _settings(
        trino={"port": 18443, "internal_port": 18080, "heap": "2G", "query_max_memory_per_node": "768MB"}
    )
    node = node_properties(settings, Path("/data"), "node-1")
    assert node["node.bind-ip"] == "127.0.0.1"
    files = render_config(settings, ETC, PEM)
    assert "-Xmx2G" in files["jvm.config"]
    assert "http-server.https.port=18443" in files["config.properties"]
    assert "http-server.http.port=18080" in files["config.properties"]
    assert "http-server.authentication.allow-insecure-over-http=false" in files["config.properties"]
    assert "query.max-memory-per-node=768MB" in files["config.properties"]
    assert "node-scheduler.include-coordinator=true" in files["config.properties"]


def test_analysts_get_a_read_only_catalog_and_only_its_analytics_schema() -> None:
    settings = _settings(namespaces={"analytics": "marts"})
    files = render_config(settings, ETC, PEM)
    assert "iceberg.security=read-only" in files["catalog/iceberg_readonly.properties"]
    assert "iceberg.security" not in files["catalog/iceberg.properties"]
    rules = access_rules(settings.trino, "marts")
    analyst = [
        rule
        for section in rules.values()
        for rule in section
        if rule.get("user") == "analyst"  # type: ignore[attr-defined]
    ]
    assert {rule.get("catalog") for rule in analyst if "catalog" in rule} == {"iceberg_readonly"}
    assert {rule["schema"] for rule in analyst if "schema" in rule} == {"marts"}
    table_rules = [rule for rule in rules["tables"] if rule.get("user") == "analyst"]  # type: ignore[union-attr]
    assert [rule["privileges"] for rule in table_rules] == [["SELECT"]]
    assert {"user": "analyst", "allow": ["execute"]} in rules["queries"]  # type: ignore[operator]
    assert not [rule for rule in rules["catalogs"] if rule.get("user") == "monitoring"]  # type: ignore[union-attr]


def test_kafka_listens_on_loopback_with_single_replica_internals() -> None:
    settings = _settings(kafka={"port": 19092, "controller_port": 19093})
    props = render_server_properties(settings, Path("/data/kraft"))
    assert "listeners=BROKER://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in props
    assert "controller.quorum.voters=1@127.0.0.1:19093" in props
    assert "offsets.topic.replication.factor=1" in props
    assert "auto.create.topics.enable=false" in props


def test_kafka_cluster_ids_are_kafka_shaped_and_unique() -> None:
    ids = {new_cluster_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", cid) for cid in ids)


def _properties(text: str) -> dict[str, str]:
    """server.properties as Java reads it: `\\` at a line's end continues the value."""
    joined = re.sub(r"\\\n\s*", "", text)
    return dict(
        line.split("=", 1) for line in joined.splitlines() if line.strip() and not line.startswith("#")
    )


def test_kafka_authenticates_every_listener_and_denies_by_default() -> None:
    settings = _settings(kafka={"admin_user": "root-of-kafka"})
    props = _properties(render_server_properties(settings, Path("/data/kraft")))
    assert props["listener.security.protocol.map"] == "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert props["inter.broker.listener.name"] == "BROKER"
    assert props["listener.name.broker.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:root-of-kafka"
    # The controller's one PLAIN user is the admin: no other name can log in there.
    controller_jaas = props["listener.name.controller.plain.sasl.jaas.config"]
    assert re.findall(r"user_([\w.@-]+)=", controller_jaas) == ["root-of-kafka"]


def test_kafka_config_holds_no_secret_values() -> None:
    settings = _settings(kafka={"admin_password": "kafka-admin-secret-value"})
    rendered = render_server_properties(settings, Path("/data/kraft"))
    assert "kafka-admin-secret-value" not in rendered
    assert "${env:LAKEHOUSE_KAFKA__ADMIN_PASSWORD}" in rendered
    # The broker may read that one variable from its environment, no other.
    assert "config.providers.env.param.allowlist.pattern=^LAKEHOUSE_KAFKA__ADMIN_PASSWORD$" in rendered
