"""Who may do what on the managed Trino: each access path tried over a real connection.

The engineer owns a schema of raw data, a candidate table and a view of it published in the
analytics namespace (as the pipeline does); then each identity tries what it should and should
not be able to do.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import trino.exceptions
from pydantic import SecretStr

from core import clients
from core.settings import LakehouseSettings
from tests.integration.conftest import unique


@pytest.fixture(scope="module")
def names(settings: LakehouseSettings) -> dict[str, str]:
    """Tables of every kind, named uniquely for this run."""
    ns = settings.namespaces
    table = unique("it_sec")
    for schema in (ns.raw, ns.analytics_candidate, ns.analytics):
        clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {schema}")
    clients.trino_query(settings, f"CREATE TABLE {ns.raw}.{table} AS SELECT '213550000001' AS msisdn")
    clients.trino_query(settings, f"CREATE TABLE {ns.analytics_candidate}.{table} AS SELECT 42 AS calls")
    clients.trino_query(
        settings,
        f"CREATE OR REPLACE VIEW {ns.analytics}.{table} AS SELECT * FROM {ns.analytics_candidate}.{table}",
    )
    return {
        "raw": f"{ns.raw}.{table}",
        "candidate": f"{ns.analytics_candidate}.{table}",
        "published": f"{ns.analytics}.{table}",
    }


@pytest.fixture(scope="module")
def as_analyst(settings: LakehouseSettings) -> Callable[[str], list[list[object]]]:
    t = settings.trino
    return lambda sql: clients.trino_query(
        settings, sql, user=t.analyst_user, password=t.analyst_password, catalog=t.readonly_catalog
    )


def denied(call: Callable[[], object]) -> str:
    with pytest.raises(trino.exceptions.TrinoUserError) as caught:
        call()
    assert caught.value.error_name == "PERMISSION_DENIED", caught.value
    return str(caught.value.message)


def test_the_analyst_reads_published_analytics_and_nothing_else(
    settings: LakehouseSettings, names: dict[str, str], as_analyst: Callable[[str], list[list[object]]]
) -> None:
    assert as_analyst(f"SELECT calls FROM {names['published']}") == [[42]]
    assert as_analyst("SHOW SCHEMAS") == [[settings.namespaces.analytics]]
    for table in (names["raw"], names["candidate"]):
        assert "Cannot select from table" in denied(lambda t=table: as_analyst(f"SELECT * FROM {t}"))
    catalog = settings.trino.catalog
    assert "Cannot access catalog" in denied(
        lambda: as_analyst(f"SELECT * FROM {catalog}.{names['published']}")
    )
    for schema in ("staging", "clean", "quality", "keys", settings.namespaces.intermediate):
        denied(lambda s=schema: as_analyst(f"SHOW TABLES FROM {s}"))


def test_the_analyst_cannot_write_run_table_procedures_or_read_others_queries(
    settings: LakehouseSettings, names: dict[str, str], as_analyst: Callable[[str], list[list[object]]]
) -> None:
    clients.trino_query(settings, f"SELECT count(*) FROM {names['raw']}")  # the engineer's query
    published = names["published"]
    clients.trino_query(settings, f"CREATE TABLE {published}_t AS SELECT 1 AS x")
    denied(lambda: as_analyst(f"INSERT INTO {published}_t VALUES 2"))
    denied(lambda: as_analyst(f"DELETE FROM {published}_t"))
    denied(lambda: as_analyst(f"CREATE TABLE {published}_copy AS SELECT 1 AS x"))
    # File-based rules do not guard table procedures; the read-only catalog does.
    denied(
        lambda: as_analyst(f"ALTER TABLE {published}_t EXECUTE expire_snapshots(retention_threshold => '0s')")
    )
    denied(lambda: as_analyst(f"ALTER TABLE {published}_t EXECUTE optimize"))
    denied(lambda: as_analyst("SELECT query FROM system.runtime.queries"))
    # ...while the engineer does see the history, this very query included.
    texts = [row[0] for row in clients.trino_query(settings, "SELECT query FROM system.runtime.queries")]
    assert any(names["raw"] in text for text in texts)


def test_monitoring_reads_metrics_and_no_data(settings: LakehouseSettings, names: dict[str, str]) -> None:
    t = settings.trino
    https = requests.Session()
    https.verify, https.trust_env = settings.trino_verify, False
    metrics = https.get(
        f"{t.url}/metrics", auth=(t.monitoring_user, t.monitoring_password.get_secret_value()), timeout=30
    )
    assert metrics.status_code == 200 and "trino_" in metrics.text, metrics.text[:200]
    analyst = https.get(
        f"{t.url}/metrics", auth=(t.analyst_user, t.analyst_password.get_secret_value()), timeout=30
    )
    assert analyst.status_code == 403
    for catalog in (t.catalog, t.readonly_catalog):
        denied(
            lambda c=catalog: clients.trino_query(
                settings,
                f"SELECT * FROM {names['published']}",
                user=t.monitoring_user,
                password=t.monitoring_password,
                catalog=c,
            )
        )


def test_no_password_a_wrong_one_or_plain_http_is_refused(settings: LakehouseSettings) -> None:
    t = settings.trino
    statement = f"{t.url}/v1/statement"
    # A header naming the user, no password: 401 over HTTPS.
    https = requests.Session()
    https.verify, https.trust_env = settings.trino_verify, False  # our CA, not REQUESTS_CA_BUNDLE
    anonymous = https.post(statement, data="SELECT 1", headers={"X-Trino-User": t.user}, timeout=30)
    assert anonymous.status_code == 401
    with pytest.raises(trino.exceptions.HttpError, match="401"):
        clients.trino_query(settings, "SELECT 1", password=SecretStr("not-the-password-at-all"))
    with pytest.raises(trino.exceptions.HttpError, match="401"):
        # Another user's password.
        clients.trino_query(settings, "SELECT 1", user=t.analyst_user, password=t.password)
    # The node-to-node HTTP port refuses user logins, with or without a password.
    internal = f"http://{t.host}:{t.internal_port}/v1/statement"
    for auth in (None, (t.user, t.password.get_secret_value())):
        response = requests.post(
            internal, data="SELECT 1", headers={"X-Trino-User": t.user}, auth=auth, timeout=30
        )
        assert response.status_code == 403, response.text
    # TLS is verified: a client trusting only the system CAs refuses our certificate.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{t.url}/v1/info", verify=True, timeout=30)
    assert clients.trino_query(settings, "SELECT current_user") == [[t.user]]


def test_an_external_trino_is_reached_with_its_own_ca_and_users(settings: LakehouseSettings) -> None:
    """managed=false: the launcher's CA is then just a CA file the user names, as for a cluster."""
    ca = settings.tls_dir / "ca.pem"
    external = settings.model_copy(
        update={"trino": settings.trino.model_copy(update={"managed": False, "ca_file": ca})}
    )
    assert external.trino_verify == str(ca)
    assert clients.trino_query(external, "SELECT current_user") == [[settings.trino.user]]
    elsewhere = settings.model_copy(
        update={"trino": settings.trino.model_copy(update={"managed": False, "ca_file": None})}
    )
    assert elsewhere.trino_verify is True  # the system's trust store, which does not know our CA
    with pytest.raises(trino.exceptions.TrinoConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        clients.trino_query(elsewhere, "SELECT 1")
