"""Superset as a service of the stack: its logins, its metadata database, its environment."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import psycopg2
import pytest

from core.settings import LakehouseSettings
from infra.launcher import Launcher
from infra.superset_venv import SupersetEnvironment

pytestmark = pytest.mark.integration


def _login(settings: LakehouseSettings, user: str, password: str) -> int:
    body = json.dumps({"username": user, "password": password, "provider": "db", "refresh": False})
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{settings.superset.url}/api/v1/security/login",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert json.load(response)["access_token"]
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_the_admin_with_the_generated_password_logs_in(settings: LakehouseSettings) -> None:
    s = settings.superset
    assert _login(settings, s.admin_user, s.admin_password.get_secret_value()) == 200
    assert _login(settings, s.admin_user, s.admin_password.get_secret_value() + "x") == 401
    assert _login(settings, "analyst", settings.trino.analyst_password.get_secret_value()) == 401


def test_metadata_lives_in_its_own_database_that_only_its_role_reaches(settings: LakehouseSettings) -> None:
    s, pg = settings.superset, settings.postgres
    own = {"host": pg.host, "port": pg.port, "dbname": s.database}
    with (
        psycopg2.connect(**own, user=s.db_user, password=s.db_password.get_secret_value()) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)
        cur.execute("SELECT count(*) FROM ab_user WHERE username = %s", (s.admin_user,))
        assert cur.fetchone() == (1,)
    # The catalog's role (Trino's, Spark's) cannot even connect to Superset's database.
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(**own, user=pg.user, password=pg.password.get_secret_value())
    # Nor Superset's role to the catalog's database.
    catalog = {**own, "dbname": pg.database}
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(**catalog, user=s.db_user, password=s.db_password.get_secret_value())


def test_the_running_servers_environment_matches_its_locked_wheels(settings: LakehouseSettings) -> None:
    environment = SupersetEnvironment(settings.cache_dir)
    environment.verify()  # a changed file is refused: tests/unit/infra/test_superset_venv.py
    assert (environment.root / ".complete").read_text().strip() == environment.lock_sha256


def test_a_changed_admin_password_takes_effect_at_the_next_up(launcher: Launcher) -> None:
    settings = launcher.settings
    admin, old = settings.superset.admin_user, settings.superset.admin_password
    service = launcher.service("superset")
    pid = service.process.pid()
    settings.superset.admin_password = type(old)(old.get_secret_value()[::-1] + "-rotated")
    try:
        assert service.credentials_changed()
        launcher.up()
        assert service.process.pid() != pid, "a credential Superset reads at start changed: restart"
        assert _login(settings, admin, settings.superset.admin_password.get_secret_value()) == 200
        assert _login(settings, admin, old.get_secret_value()) == 401
    finally:
        settings.superset.admin_password = old
        launcher.up()
    assert _login(settings, admin, old.get_secret_value()) == 200
