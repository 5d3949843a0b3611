"""Monitoring on the test stack: every scrape target up, its numbers moving, alerts reaching a webhook.

Faults are made for real: a service frozen with SIGSTOP (alive, answering nothing) must fire
ServiceDown; a stream job frozen while records wait must fire StreamStalled (the session's
threshold is 15 s); both through Prometheus and Alertmanager to the session's webhook
(:mod:`tests.integration.alerts`), and resolve once the process goes on. The failed-gate alert
is proven where gates really fail, in test_pipeline. Each latency is printed for the notes.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
import requests

from app.ui import ops
from core import prometheus_api
from core.exceptions import LakehouseError
from core.settings import LakehouseSettings
from infra.launcher import Launcher
from ingestion.kafka_sink import CdrProducer
from tests.integration.alerts import Webhook, prometheus_query, prometheus_value
from tests.integration.conftest import unique
from tests.integration.test_stream import (  # noqa: F401 - stream_settings is a fixture
    Job,
    count_ids,
    events,
    new_topic,
    stream_settings,
    wait_until,
)

pytestmark = pytest.mark.integration

EXPECTED_JOBS = {"prometheus", "alertmanager", "trino", "minio", "postgres", "lakehouse", "kafka"}
# ServiceDown waits 30 s (`for`); add a scrape timeout, an evaluation and Alertmanager's wait.
ALERT_TIMEOUT_S = 120


def _targets(settings: LakehouseSettings) -> list[dict[str, Any]]:
    response = requests.get(f"{settings.monitoring.prometheus.url}/api/v1/targets", timeout=5)
    response.raise_for_status()
    return list(response.json()["data"]["activeTargets"])


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
    for name in ("prometheus", "alertmanager", "postgres-exporter", "lakehouse-exporter"):
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
        "kafka": "kafka_server_brokertopicmetrics_messagesin_total",
        "lakehouse": "lakehouse_state_dir_free_bytes",
    }.items():
        result = prometheus_query(settings, f'{metric}{{job="{job}"}}')
        assert result, f"{job}: no {metric}"
    assert prometheus_value(settings, 'pg_up{job="postgres"}') == 1.0
    # The CDR topic's lag is served even before any stream job ran: one series per partition.
    lag = prometheus_query(
        settings, f'lakehouse_stream_consumer_lag_records{{topic="{settings.kafka.cdr_topic}"}}'
    )
    assert len(lag) == settings.kafka.partitions


def test_the_ops_view_reads_every_target_and_a_bad_query_is_named(settings: LakehouseSettings) -> None:
    _wait_all_up(settings)
    view = ops.ops_view(settings)
    assert view.problem is None, view.problem
    assert {t.labels["job"] for t in view.targets} == EXPECTED_JOBS
    assert view.targets_up == len(view.targets)
    with pytest.raises(LakehouseError, match=r"refused the query 'sum\(': .*parse error"):
        prometheus_api.query(settings, "sum(")


def test_a_frozen_service_fires_service_down_to_the_webhook_and_resolves(
    launcher: Launcher, settings: LakehouseSettings, webhook: Webhook
) -> None:
    _wait_all_up(settings)
    pid = launcher.service("postgres-exporter").process.pid()
    assert pid is not None
    frozen_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        fired = webhook.wait_for("firing", "ServiceDown", {"job": "postgres"}, frozen_at, ALERT_TIMEOUT_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    thawed_at = time.monotonic()
    resolved = webhook.wait_for("resolved", "ServiceDown", {"job": "postgres"}, thawed_at, ALERT_TIMEOUT_S)
    fired_s, resolved_s = fired - frozen_at, resolved - thawed_at
    print(f"ServiceDown: fired {fired_s:.1f}s after SIGSTOP, resolved {resolved_s:.1f}s after SIGCONT")


def test_the_stream_moves_its_metrics_and_a_frozen_job_fires_stream_stalled_and_resolves(
    settings: LakehouseSettings,
    stream_settings: LakehouseSettings,  # noqa: F811 - the fixture, imported
    webhook: Webhook,
) -> None:
    topic, prefix = new_topic(stream_settings, "it.mon"), unique("mon")
    data = events(20_000, prefix)
    first, second = data.slice(0, 10_000), data.slice(10_000)
    on_topic = f'{{topic="{topic}"}}'
    landed = f"lakehouse_stream_rows_landed_total{on_topic}"
    lag = f"sum(lakehouse_stream_consumer_lag_records{on_topic})"
    broker_in = f'sum(kafka_server_brokertopicmetrics_messagesin_total{{topic="{topic}"}})'
    producer = CdrProducer(stream_settings, topic)
    job = Job(stream_settings, topic)
    job.start()
    try:
        producer.send(first)
        producer.flush()
        # Prometheus sees the rows landed, the lag back at 0 and the broker's own count.
        wait_until(lambda: (prometheus_value(settings, landed) or 0) >= first.num_rows, what=landed)
        wait_until(lambda: prometheus_value(settings, lag) == 0, what=f"{lag} == 0")
        wait_until(lambda: (prometheus_value(settings, broker_in) or 0) >= first.num_rows, what=broker_in)
        commit_before = prometheus_value(
            settings, f"lakehouse_stream_last_commit_timestamp_seconds{on_topic}"
        )
        assert commit_before is not None

        pid = job.process.pid()
        assert pid is not None
        os.killpg(pid, signal.SIGSTOP)  # the driver and its JVM: alive, committing nothing
        frozen_at = time.monotonic()
        try:
            producer.send(second)
            producer.flush()
            wait_until(lambda: (prometheus_value(settings, lag) or 0) >= second.num_rows, what="lag to grow")
            fired = webhook.wait_for("firing", "StreamStalled", {"topic": topic}, frozen_at, ALERT_TIMEOUT_S)
            # The ops page's view says the same: the records waiting, the commit ageing, the alert.
            view = ops.ops_view(settings, window_s=300)
            assert view.problem is None, view.problem
            assert (
                ops.latest([s for s in view.lag if s.labels.get("topic") == topic]) or 0
            ) >= second.num_rows
            stale = ops.oldest_latest([s for s in view.freshness if s.labels.get("topic") == topic])
            assert stale is not None and stale > settings.monitoring.thresholds.stream_stalled_s
            assert f"StreamStalled ({topic})" in ops.alert_names(view.firing)
        finally:
            os.killpg(pid, signal.SIGCONT)
        thawed_at = time.monotonic()
        resolved = webhook.wait_for("resolved", "StreamStalled", {"topic": topic}, thawed_at, ALERT_TIMEOUT_S)
        wait_until(lambda: prometheus_value(settings, lag) == 0, what="the job to catch up")
        assert (prometheus_value(settings, landed) or 0) >= data.num_rows
        assert count_ids(stream_settings, prefix) == (data.num_rows, data.num_rows)
        print(
            f"StreamStalled: fired {fired - frozen_at:.1f}s after SIGSTOP (threshold "
            f"{settings.monitoring.thresholds.stream_stalled_s}s + for 30s), "
            f"resolved {resolved - thawed_at:.1f}s after SIGCONT"
        )
    finally:
        job.stop()
