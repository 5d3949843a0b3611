"""Monitoring on the test stack: every scrape target up, and an alert that reaches a webhook.

The stack's Alertmanager posts to ``settings.monitoring.webhook_url``; this module serves that
address. A service frozen with SIGSTOP (alive, but answering nothing) must fire ServiceDown
through Prometheus and Alertmanager, and resolve once it answers again.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from core.settings import LakehouseSettings
from infra.launcher import Launcher

pytestmark = pytest.mark.integration

EXPECTED_JOBS = {"prometheus", "alertmanager", "trino", "minio", "postgres"}
# ServiceDown waits 30 s (`for`); add a scrape timeout, an evaluation and Alertmanager's wait.
ALERT_TIMEOUT_S = 120


class Webhook:
    """Alertmanager's notifications as received: (arrival time, payload)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        received: list[tuple[float, dict[str, Any]]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, status: str, alertname: str, job: str, since: float, timeout: float) -> float:
        """Arrival time of the first notice of ``alertname`` for ``job`` in ``status`` after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, payload in list(self.received):
                alerts = payload.get("alerts", [])
                if arrived >= since and any(
                    a["status"] == status
                    and a["labels"].get("alertname") == alertname
                    and a["labels"].get("job") == job
                    for a in alerts
                ):
                    return arrived
            time.sleep(0.2)
        seen = [(a["labels"].get("alertname"), a["status"]) for _, p in self.received for a in p["alerts"]]
        raise AssertionError(f"no {status} {alertname} for {job} in {timeout:.0f}s; received {seen}")


@pytest.fixture(scope="module")
def webhook(settings: LakehouseSettings) -> Iterator[Webhook]:
    hook = Webhook(str(settings.monitoring.webhook_url))
    yield hook
    hook.server.shutdown()


def _targets(settings: LakehouseSettings) -> list[dict[str, Any]]:
    response = requests.get(f"{settings.monitoring.prometheus.url}/api/v1/targets", timeout=5)
    response.raise_for_status()
    return list(response.json()["data"]["activeTargets"])


def _query(settings: LakehouseSettings, promql: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{settings.monitoring.prometheus.url}/api/v1/query", params={"query": promql}, timeout=5
    )
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def _wait_all_up(settings: LakehouseSettings, timeout: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    targets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        targets = _targets(settings)
        if {t["labels"]["job"] for t in targets} == EXPECTED_JOBS and all(
            t["health"] == "up" for t in targets
        ):
            return targets
        time.sleep(0.5)
    raise AssertionError(
        "targets not all up: "
        + ", ".join(f"{t['labels']['job']}={t['health']} {t['lastError']}" for t in targets)
    )


def test_status_shows_the_monitoring_services_healthy(launcher: Launcher) -> None:
    rows = {row.name: row for row in launcher.status()}
    for name in ("prometheus", "alertmanager", "postgres-exporter"):
        assert rows[name].pid is not None and rows[name].health.ok, (name, rows[name].health)


def test_scrape_secrets_are_private_files_and_no_config_holds_one(launcher: Launcher) -> None:
    settings = launcher.settings
    secrets_dir = settings.home / "secrets"
    files = [p for p in secrets_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"trino.password", "minio.token", "db.password"}
    assert secrets_dir.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files), files
    passwords = [
        settings.trino.monitoring_password.get_secret_value(),
        settings.monitoring.postgres_exporter.db_password.get_secret_value(),
    ]
    configs = [p for name in ("prometheus", "alertmanager") for p in (settings.conf_dir / name).rglob("*")]
    assert configs and not [p for p in configs if p.is_file() and any(v in p.read_text() for v in passwords)]


def test_every_scrape_target_is_up_and_serves_its_metrics(settings: LakehouseSettings) -> None:
    _wait_all_up(settings)
    # Each target's own series, not only `up`: the scrape was authenticated and parsed.
    for job, metric in {
        "trino": "trino_execution_name_QueryManager_RunningQueries",
        "minio": "minio_cluster_nodes_online_total",
        "postgres": "pg_up",
        "alertmanager": "alertmanager_build_info",
    }.items():
        result = _query(settings, f'{metric}{{job="{job}"}}')
        assert result, f"{job}: no {metric}"
    assert float(_query(settings, 'pg_up{job="postgres"}')[0]["value"][1]) == 1.0


def test_a_frozen_service_fires_service_down_to_the_webhook_and_resolves(
    launcher: Launcher, settings: LakehouseSettings, webhook: Webhook
) -> None:
    _wait_all_up(settings)
    pid = launcher.service("postgres-exporter").process.pid()
    assert pid is not None
    frozen_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        fired = webhook.wait_for("firing", "ServiceDown", "postgres", frozen_at, ALERT_TIMEOUT_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    thawed_at = time.monotonic()
    resolved = webhook.wait_for("resolved", "ServiceDown", "postgres", thawed_at, ALERT_TIMEOUT_S)
    fired_s, resolved_s = fired - frozen_at, resolved - thawed_at
    print(f"ServiceDown: fired {fired_s:.1f}s after SIGSTOP, resolved {resolved_s:.1f}s after SIGCONT")
