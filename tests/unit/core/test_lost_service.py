"""Which service an error says was lost: the line a command ends with instead of a traceback."""

from __future__ import annotations

import psycopg2
import pyarrow as pa
import pytest
import requests
import trino.exceptions
from sqlalchemy.exc import OperationalError

from core.clients import first_line, lost_service
from core.settings import LakehouseSettings, load_settings


@pytest.fixture
def settings() -> LakehouseSettings:
    return load_settings(env_file=None)


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (OperationalError("SELECT 1", None, psycopg2.OperationalError("connection refused")), "PostgreSQL"),
        (psycopg2.OperationalError("server closed the connection unexpectedly"), "PostgreSQL"),
        (trino.exceptions.TrinoConnectionError("failed to connect"), "Trino"),
        (requests.exceptions.ConnectionError("Connection refused"), "Trino"),
        (OSError("AWS Error NETWORK_CONNECTION during PutObject operation"), "object store"),
        (pa.ArrowIOError("When uploading part: AWS Error"), "object store"),
    ],
)
def test_a_lost_service_is_named_with_its_endpoint(
    settings: LakehouseSettings, error: BaseException, named: str
) -> None:
    service = lost_service(settings, error)
    assert service is not None and named in service


@pytest.mark.parametrize(
    "error", [ValueError("bad"), FileNotFoundError("x.toml"), PermissionError("denied"), KeyError("k")]
)
def test_other_errors_are_not_a_lost_service(settings: LakehouseSettings, error: BaseException) -> None:
    assert lost_service(settings, error) is None


def test_the_first_line_is_the_drivers_cause_on_one_line() -> None:
    error = OperationalError("SELECT 1", None, psycopg2.OperationalError("connection refused\n\tIs it up?"))
    assert first_line(error) == "connection refused Is it up?"


def test_a_transient_trino_failure_is_retried_and_nothing_else_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from core import clients

    failures = [
        trino.exceptions.TrinoQueryError(
            {"message": clients.TRANSIENT_TRINO_FAILURES[0], "errorName": "GENERIC_INTERNAL_ERROR"}
        )
    ]
    statements: list[str] = []

    class Cursor:
        def execute(self, sql: str) -> None:
            statements.append(sql)
            if failures:
                raise failures.pop()

        def fetchall(self) -> list[list[int]]:
            return [[1]]

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor()

        def close(self) -> None:
            pass

    monkeypatch.setattr(clients, "trino_connection", lambda *_: Connection())
    settings = load_settings(env_file=None)
    assert clients.trino_query(settings, "SELECT 1") == [[1]]
    assert statements == ["SELECT 1", "SELECT 1"]

    failures.append(trino.exceptions.TrinoQueryError({"message": "line 1:8: Column 'x' cannot be resolved"}))
    with pytest.raises(trino.exceptions.TrinoQueryError, match="cannot be resolved"):
        clients.trino_query(settings, "SELECT x")
    assert statements[-1] == "SELECT x" and statements.count("SELECT x") == 1


def test_stale_catalog_connections_and_an_unready_scheduler_are_transient() -> None:
    from core.clients import is_transient_trino_failure

    assert is_transient_trino_failure(
        "Error listing schemas for catalog iceberg: Failed to execute query: "
        "SELECT DISTINCT table_namespace FROM iceberg_tables WHERE catalog_name = ?"
    )
    assert is_transient_trino_failure(
        "Error listing tables for catalog iceberg: Failed to execute exists query: "
        "SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ? LIMIT 1"
    )
    assert is_transient_trino_failure('message="Cannot check and eventually update SQL schema"')
    assert is_transient_trino_failure('name=NO_NODES_AVAILABLE, message="No nodes available to run query"')
    assert not is_transient_trino_failure("line 1:8: Column 'x' cannot be resolved")
