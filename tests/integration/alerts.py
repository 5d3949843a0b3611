"""What Alertmanager sends, as received by the test session's webhook, and Prometheus' answers.

The stack's Alertmanager posts to ``settings.monitoring.webhook_url``; the session fixture
``webhook`` serves that address, so any test may wait for the alert its fault should raise.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from core.settings import LakehouseSettings


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

    def wait_for(
        self, status: str, alertname: str, labels: Mapping[str, str], since: float, timeout: float
    ) -> float:
        """Arrival time of the first notice, after ``since``, of ``alertname`` in ``status``
        ("firing" or "resolved") whose labels include ``labels``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, payload in list(self.received):
                if arrived >= since and any(
                    a["status"] == status
                    and a["labels"].get("alertname") == alertname
                    and all(a["labels"].get(k) == v for k, v in labels.items())
                    for a in payload.get("alerts", [])
                ):
                    return arrived
            time.sleep(0.2)
        seen = [(a["labels"].get("alertname"), a["status"]) for _, p in self.received for a in p["alerts"]]
        raise AssertionError(f"no {status} {alertname} {dict(labels)} in {timeout:.0f}s; received {seen}")


@pytest.fixture(scope="session")
def webhook(settings: LakehouseSettings) -> Iterator[Webhook]:
    hook = Webhook(str(settings.monitoring.webhook_url))
    yield hook
    hook.server.shutdown()


def prometheus_query(settings: LakehouseSettings, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    response = requests.get(
        f"{settings.monitoring.prometheus.url}/api/v1/query", params={"query": promql}, timeout=5
    )
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def prometheus_value(settings: LakehouseSettings, promql: str) -> float | None:
    """The single value ``promql`` evaluates to now; None while it has no sample."""
    result = prometheus_query(settings, promql)
    assert len(result) <= 1, f"{promql} is not a single series: {result}"
    return float(result[0]["value"][1]) if result else None
