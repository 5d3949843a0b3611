"""Connections to the lakehouse's services, built from the one settings source.

Every component (launcher health checks, generator, pipeline, tests) connects through these
factories, so an endpoint or credential is configured in exactly one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.exceptions import ServiceUnavailableError

if TYPE_CHECKING:
    import psycopg2.extensions
    import trino.dbapi
    from minio import Minio
    from pydantic import SecretStr
    from pyiceberg.catalog.sql import SqlCatalog

    from core.kafka_auth import KafkaIdentity
    from core.settings import LakehouseSettings, S3Identity


def iceberg_properties(settings: LakehouseSettings) -> dict[str, str]:
    """PyIceberg properties of the shared JDBC (SQL) catalog, signing S3 requests as our Python
    code's own identity (``LAKEHOUSE_S3__ACCESS_KEY``), which may touch the warehouse bucket only."""
    s3 = settings.s3
    identity = s3.identity("lakehouse")
    return {
        "uri": settings.postgres.sqlalchemy_url,
        "warehouse": s3.warehouse,
        "init_catalog_tables": "true",
        "s3.endpoint": s3.endpoint,
        "s3.access-key-id": identity.access_key,
        "s3.secret-access-key": identity.secret(),
        "s3.region": s3.region,
        "s3.force-virtual-addressing": "false",
    }


def iceberg_catalog(settings: LakehouseSettings) -> SqlCatalog:
    """The Iceberg catalog, as PyIceberg sees it (same name as in Trino and Spark)."""
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(settings.catalog.name, **iceberg_properties(settings))


def trino_connection(
    settings: LakehouseSettings,
    schema: str | None = None,
    *,
    user: str | None = None,
    password: SecretStr | None = None,
    catalog: str | None = None,
) -> trino.dbapi.Connection:
    """A DB-API connection to Trino, as the engineer on the Iceberg catalog unless told otherwise.

    Over HTTPS the password goes in a Basic authentication header and the server's certificate
    is verified (our CA for the managed Trino); over plain HTTP no password is sent.
    """
    import trino
    from trino.auth import BasicAuthentication

    t = settings.trino
    user = user or t.user
    secret = (password or t.password).get_secret_value()
    https = t.scheme == "https"
    return trino.dbapi.connect(
        host=t.host,
        port=t.port,
        http_scheme=t.scheme,
        user=user,
        auth=BasicAuthentication(user, secret) if https and secret else None,
        http_session=_trino_http_session(settings) if https else None,
        catalog=catalog or t.catalog,
        schema=schema,
        source="cdr-lakehouse",
    )


def _trino_http_session(settings: LakehouseSettings) -> Any:
    """An HTTP session that verifies Trino's certificate against the CA the settings name.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set system-wide on many machines)
    override a session's own CA bundle; with a CA of our own, the environment is not consulted.
    """
    import requests

    session = requests.Session()
    session.verify = settings.trino_verify
    if isinstance(settings.trino_verify, str):
        session.trust_env = False
    return session


_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@contextmanager
def trino_ca_bundle(settings: LakehouseSettings) -> Iterator[None]:
    """While inside, requests made by libraries that open their own Trino connections (dbt,
    Great Expectations' SQLAlchemy dialect) verify against the CA of Trino's certificate: the
    CA-bundle variables of the environment would otherwise override what they are given."""
    verify = settings.trino_verify
    if not isinstance(verify, str):
        yield
        return
    saved = {name: os.environ.get(name) for name in _CA_BUNDLE_VARIABLES}
    os.environ.update(dict.fromkeys(_CA_BUNDLE_VARIABLES, verify))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Failures of a statement that never started, so safe to run again:
# - Trino's JDBC catalog keeps pooled connections to PostgreSQL; after the database restarts, the
#   first statements on the stale ones fail before they have done anything (seen in the fault
#   matrix);
# - right after Trino starts, its node scheduler can still hold an empty node map for a catalog
#   (memoised for a few seconds) although the coordinator already lists itself as active: the
#   query fails at scheduling with NO_NODES_AVAILABLE (seen in CI on a restarted stack).
TRANSIENT_TRINO_FAILURES = (
    "Cannot check and eventually update SQL schema",
    # "Error listing schemas ...: Failed to execute query: SELECT ...", "Error listing tables ...:
    # Failed to execute exists query: SELECT ...": the catalog's own SQL on iceberg_tables failed.
    "Failed to execute",
    "No nodes available to run query",
)


def is_transient_trino_failure(message: str) -> bool:
    """Whether an error's text is a Trino failure of a statement that never started (stale
    catalog connection, node scheduler not yet ready), which a re-run may simply pass."""
    return any(marker in message for marker in TRANSIENT_TRINO_FAILURES)


def _transient_trino_failure(error: BaseException) -> bool:
    import trino.exceptions

    return isinstance(error, trino.exceptions.TrinoQueryError) and is_transient_trino_failure(
        error.message or ""
    )


def trino_query(
    settings: LakehouseSettings,
    sql: str,
    schema: str | None = None,
    params: Sequence[Any] | None = None,
    **identity: Any,
) -> list[list[Any]]:
    """Run one statement on Trino and return all rows (retried only on a transient failure);
    as the engineer unless ``identity`` (user, password, catalog of ``trino_connection``) says
    otherwise. ``params`` bind the statement's ``?`` placeholders (values never go in SQL text)."""
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

    # 20 s outlasts the scheduler's memoised node map; a stale connection passes on the next try.
    for attempt in Retrying(
        stop=stop_after_delay(20),
        wait=wait_fixed(1),
        retry=retry_if_exception(_transient_trino_failure),
        reraise=True,
    ):
        with attempt:
            conn = trino_connection(settings, schema, **identity)
            try:
                cur = conn.cursor()
                if params is None:
                    cur.execute(sql)
                else:
                    cur.execute(sql, params)
                return cur.fetchall()
            finally:
                conn.close()
    raise AssertionError("unreachable: Retrying returns the rows or re-raises")


def s3_client(settings: LakehouseSettings, identity: S3Identity | None = None) -> Minio:
    """An S3 client on the object store holding the warehouse bucket, signing as ``identity``
    (default: our Python code's own, ``LAKEHOUSE_S3__ACCESS_KEY``)."""
    from minio import Minio

    s3 = settings.s3
    identity = identity or s3.identity("lakehouse")
    return Minio(
        f"{s3.host}:{s3.port}",
        access_key=identity.access_key,
        secret_key=identity.secret(),
        secure=s3.scheme == "https",
        region=s3.region,
    )


def postgres_connection(settings: LakehouseSettings) -> psycopg2.extensions.connection:
    """A connection to the catalog database as the lakehouse's own role."""
    import psycopg2

    pg = settings.postgres
    return psycopg2.connect(
        host=pg.host,
        port=pg.port,
        user=pg.user,
        password=pg.password.get_secret_value(),
        dbname=pg.database,
        connect_timeout=5,
    )


def kafka_config(settings: LakehouseSettings, identity: KafkaIdentity, **extra: Any) -> dict[str, Any]:
    """librdkafka configuration for a producer, consumer or admin client that authenticates as
    ``identity`` (none when the external broker is PLAINTEXT). ``extra`` adds or overrides keys."""
    k = settings.kafka
    config: dict[str, Any] = {
        "bootstrap.servers": k.bootstrap_servers,
        "security.protocol": k.security_protocol,
    }
    if k.authenticated:
        config |= {
            "sasl.mechanism": k.sasl_mechanism,
            "sasl.username": k.user(identity),
            "sasl.password": k.require_password(identity),
        }
    return {**config, **extra}


def lag_consumer(settings: LakehouseSettings) -> Any:
    """A confluent_kafka Consumer that only reads offsets: the ``stream`` identity (DESCRIBE on the
    topic, which its READ implies) in its lag group, committing nothing."""
    from confluent_kafka import Consumer

    config = {"group.id": settings.kafka.lag_group, "enable.auto.commit": False}
    return Consumer(kafka_config(settings, "stream", **config))


def kafka_end_offsets(consumer: Any, topic: str, timeout: float = 10) -> dict[int, int]:
    """Next offset to be written, per partition of ``topic``, through a confluent_kafka Consumer."""
    from confluent_kafka import KafkaException, TopicPartition

    metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
    if metadata.error is not None:  # e.g. UNKNOWN_TOPIC_OR_PART
        raise KafkaException(metadata.error)
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
        for p in metadata.partitions
    }


_JAAS_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def _jaas_quoted(value: str) -> str:
    # Kafka parses JAAS options with java.io.StreamTokenizer: backslash escapes inside quotes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spark_kafka_options(settings: LakehouseSettings, identity: KafkaIdentity) -> dict[str, str]:
    """Options of Spark's Kafka source and sink (``kafka.``-prefixed client settings) for
    ``identity``. Set on the DataFrame reader or writer in the driver, never on a command line;
    Spark redacts option values that mention a password when it prints a plan."""
    k = settings.kafka
    options = {"kafka.bootstrap.servers": k.bootstrap_servers, "kafka.security.protocol": k.security_protocol}
    if k.authenticated:
        user, password = _jaas_quoted(k.user(identity)), _jaas_quoted(k.require_password(identity))
        jaas = f"{_JAAS_LOGIN_MODULES[k.sasl_mechanism]} required username={user} password={password};"
        options |= {"kafka.sasl.mechanism": k.sasl_mechanism, "kafka.sasl.jaas.config": jaas}
    return options


def lost_service(settings: LakehouseSettings, error: BaseException) -> str | None:
    """Which service ``error`` says was lost mid-command (refused, reset, unreachable), named
    with its endpoint; None when ``error`` is something else. Lets a command end with one line
    (ServiceUnavailableError, exit 7) instead of a driver's traceback."""
    import psycopg2
    import requests
    import trino.exceptions
    from pyarrow.lib import ArrowException
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(
        error, OperationalError | InterfaceError | psycopg2.OperationalError | psycopg2.InterfaceError
    ):
        return f"the catalog database (PostgreSQL at {settings.postgres.host}:{settings.postgres.port})"
    trino_lost = (
        trino.exceptions.TrinoConnectionError,
        trino.exceptions.Http502Error,
        trino.exceptions.Http503Error,
        trino.exceptions.Http504Error,
        requests.exceptions.ConnectionError,
    )
    if isinstance(error, trino_lost):
        return f"Trino ({settings.trino.url})"
    if isinstance(error, ArrowException | OSError) and not isinstance(
        error, FileNotFoundError | PermissionError
    ):
        return f"the object store ({settings.s3.endpoint})"  # pyarrow's S3 errors are OSErrors
    return None


def first_line(error: BaseException, limit: int = 300) -> str:
    """The error's message on one line (a driver's cause, where it wraps one)."""
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split())[:limit]


@contextmanager
def service_loss_reported(settings: LakehouseSettings, stopped: str, advice: str) -> Iterator[None]:
    """Turn a service lost inside the block into ServiceUnavailableError (exit 7): one line,
    ``<stopped>: <service> failed: <cause>; <advice>``. Other errors pass through."""
    try:
        yield
    except Exception as error:
        service = lost_service(settings, error)
        if service is None:
            raise
        raise ServiceUnavailableError(
            f"{stopped}: {service} failed: {first_line(error)}; {advice}"
        ) from error
