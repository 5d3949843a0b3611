"""Browser tests' fixtures: a logged-in Chromium on a Superset, and a small REST client for it.

``superset_browser`` (module scope) yields an :class:`infra.superset_page.SupersetPage` signed in
as the admin of ``superset_url``. It needs three fixtures that describe the Superset under test:

- ``superset_url``: its base address, e.g. ``http://127.0.0.1:8088``;
- ``superset_admin``: ``(user, password)`` of an admin;
- ``superset_database``: the name of a database registered in it that tests may run their own
  ``SELECT``s on (no table needed).

The three defined here describe the test stack's own Superset (the session's ``settings``): its
admin, and the lakehouse's Trino database that ``dashboards/bundle/`` defines (imported at up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import yaml

from core.settings import LakehouseSettings
from infra.browser import chromium_session
from infra.services.superset import BUNDLE_DIR
from infra.superset_page import SupersetPage


@pytest.fixture(scope="session")
def superset_url(settings: LakehouseSettings) -> str:
    return settings.superset.url


@pytest.fixture(scope="session")
def superset_admin(settings: LakehouseSettings) -> tuple[str, str]:
    return settings.superset.admin_user, settings.superset.admin_password.get_secret_value()


@pytest.fixture(scope="session")
def superset_database() -> str:
    """The bundle's database (Trino as the analyst): tests' constant SELECTs need no table."""
    (database,) = BUNDLE_DIR.glob("databases/*.yaml")
    return str(yaml.safe_load(database.read_text())["database_name"])


@contextmanager
def logged_in_page(base_url: str, user: str, password: str) -> Iterator[SupersetPage]:
    """A fresh headless Chromium signed in to Superset at ``base_url`` through its login form."""
    with chromium_session() as driver:
        page = SupersetPage(driver)
        page.login(base_url, user, password)
        yield page


@pytest.fixture(scope="module")
def superset_browser(superset_url: str, superset_admin: tuple[str, str]) -> Iterator[SupersetPage]:
    """A browser signed in as Superset's admin, shared by a test module (Chromium takes seconds)."""
    with logged_in_page(superset_url, *superset_admin) as page:
        yield page


def _rison_string(text: str) -> str:
    # Superset's list filters are Rison; in a quoted string ' and ! are escaped with !.
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


class SupersetApi:
    """Superset's REST API as one user: a JWT for the API, a CSRF token for its writes."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        token = self.request(
            "POST",
            "/api/v1/security/login",
            json={"username": user, "password": password, "provider": "db", "refresh": False},
        )["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        # The CSRF token belongs to the session cookie this request sets; writes send both.
        self.session.headers["X-CSRFToken"] = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["Referer"] = self.base_url

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, self.base_url + path, timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:1000]}"
        return response.json() if response.content else {}

    def database_id(self, name: str) -> int:
        query = f"(filters:!((col:database_name,opr:eq,value:{_rison_string(name)})))"
        found = self.request("GET", "/api/v1/database/", params={"q": query})["result"]
        assert found, f"no database {name!r} in Superset at {self.base_url}"
        return int(found[0]["id"])
