"""A small client of Superset's REST API: log in, list dashboards and their charts, chart data.

Used by the CI smoke check, the integration tests and the benchmarks to ask Superset exactly what
a dashboard would: ``GET /api/v1/chart/{id}/data/`` runs the chart's saved query context through
Superset (its SQL, its database connection as the analyst, its cache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from core.exceptions import ServiceUnavailableError
from core.settings import SupersetSettings


@dataclass(frozen=True)
class ChartResult:
    """One chart's data as Superset returns it."""

    chart_id: int
    name: str
    rows: list[dict[str, Any]]
    error: str | None
    seconds: float
    cached: bool


class SupersetClient:
    """A logged-in session with Superset's API (bearer token; CSRF for writes)."""

    def __init__(
        self, superset: SupersetSettings, user: str | None = None, password: str | None = None
    ) -> None:
        self.base = superset.url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: no proxy from the environment
        body = {
            "username": user or superset.admin_user,
            "password": password if password is not None else superset.admin_password.get_secret_value(),
            "provider": "db",
            "refresh": False,
        }
        try:
            response = self.session.post(f"{self.base}/api/v1/security/login", json=body, timeout=60)
        except requests.ConnectionError as exc:
            raise ServiceUnavailableError(f"Superset at {self.base} is not reachable: {exc}") from None
        if response.status_code != 200:
            raise ServiceUnavailableError(
                f"Superset login as {body['username']!r} refused: {response.status_code}"
            )
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base}{path}", params=params, timeout=120)
        response.raise_for_status()
        return response.json()

    def dashboards(self) -> list[dict[str, Any]]:
        """Every dashboard: id, title, slug, uuid."""
        query = "(columns:!(id,dashboard_title,slug,uuid),page_size:100)"
        return list(self.get("/api/v1/dashboard/", q=query)["result"])

    def dashboard_charts(self, dashboard_id: int) -> list[dict[str, Any]]:
        """The charts on one dashboard (id, slice_name, form_data...)."""
        return list(self.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"])

    def chart_data(self, chart_id: int, name: str = "", force: bool = False) -> ChartResult:
        """Run the chart's saved query context; an error is returned, not raised."""
        began = time.monotonic()
        params = {"force": "true"} if force else {}
        response = self.session.get(f"{self.base}/api/v1/chart/{chart_id}/data/", params=params, timeout=180)
        seconds = time.monotonic() - began
        try:
            body = response.json()
        except ValueError:
            return ChartResult(chart_id, name, [], f"HTTP {response.status_code}: not JSON", seconds, False)
        if response.status_code != 200:
            message = body.get("message") or body.get("errors") or body
            return ChartResult(chart_id, name, [], f"HTTP {response.status_code}: {message}", seconds, False)
        rows: list[dict[str, Any]] = []
        errors = []
        cached = True
        for result in body.get("result", []):
            rows.extend(result.get("data") or [])
            cached = cached and bool(result.get("is_cached"))
            if result.get("error"):
                errors.append(str(result["error"]))
        return ChartResult(chart_id, name, rows, "; ".join(errors) or None, seconds, cached)
