"""The configuration files of Prometheus and Alertmanager, rendered from the settings.

Written by the services into the state dir; no secret is in them or on a command line: Trino is
scraped as its ``monitoring`` identity over HTTPS verified against the stack's CA, its password
read from a 0600 file; MinIO with a bearer token read from a 0600 file. versitygw publishes no
Prometheus metrics: its health path is scraped for ``up`` alone (an empty page is a valid one).
JSON is valid YAML, so both render as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.exceptions import ConfigError
from core.monitoring_settings import AlertThresholds
from core.settings import LakehouseSettings
from infra.services.versitygw import HEALTH_PATH

RULES_FILE = Path(__file__).resolve().parents[1] / "monitoring" / "rules.yml"
# @name@ in rules.yml: a field of AlertThresholds. Not ${...}: the rules' own Go templates use $.
_THRESHOLD = re.compile(r"@([a-z_]+)@")


def render_rules(thresholds: AlertThresholds, source: Path = RULES_FILE) -> str:
    """rules.yml with every @threshold@ replaced by its setting; an unknown name is an error."""
    values = thresholds.model_dump()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(
                f"{source}: threshold @{name}@ is not a setting; known: {', '.join(sorted(values))}"
            )
        return str(values[name])

    return _THRESHOLD.sub(value, source.read_text(encoding="utf-8"))


def prometheus_config(
    settings: LakehouseSettings,
    *,
    rules_file: Path,
    ca_file: Path,
    trino_password_file: Path,
    minio_token_file: Path | None,
) -> dict[str, Any]:
    """prometheus.yml: the scrape targets, the rules and where alerts go."""
    mon = settings.monitoring

    def job(name: str, target: str, **extra: Any) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": [target]}], **extra}

    jobs = [
        job("prometheus", f"{mon.prometheus.host}:{mon.prometheus.port}"),
        job("alertmanager", f"{mon.alertmanager.host}:{mon.alertmanager.port}"),
        job(
            "trino",
            f"{settings.trino.host}:{settings.trino.port}",
            scheme="https",
            tls_config={"ca_file": str(ca_file)},
            basic_auth={
                "username": settings.trino.monitoring_user,
                "password_file": str(trino_password_file),
            },
        ),
        job("postgres", f"{mon.postgres_exporter.host}:{mon.postgres_exporter.port}"),
        job("lakehouse", f"{mon.exporter.host}:{mon.exporter.port}"),
    ]
    if settings.kafka.managed:  # the JMX agent runs inside the broker the launcher starts
        jobs.append(job("kafka", f"{settings.kafka.host}:{mon.kafka_jmx.port}"))
    if settings.s3.managed and settings.s3.server == "versitygw":
        # Liveness only, so `up == 0` (ServiceDown) covers the object store on either server.
        jobs.append(job("versitygw", f"{settings.s3.host}:{settings.s3.port}", metrics_path=HEALTH_PATH))
    elif minio_token_file is not None:
        jobs.append(
            job(
                "minio",
                f"{settings.s3.host}:{settings.s3.port}",
                metrics_path="/minio/v2/metrics/cluster",
                authorization={"type": "Bearer", "credentials_file": str(minio_token_file)},
            )
        )
    return {
        "global": {
            "scrape_interval": f"{mon.prometheus.scrape_interval_s}s",
            "evaluation_interval": f"{mon.prometheus.evaluation_interval_s}s",
        },
        "rule_files": [str(rules_file)],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"{mon.alertmanager.host}:{mon.alertmanager.port}"]}]}
            ]
        },
        "scrape_configs": jobs,
    }


def alertmanager_config(settings: LakehouseSettings) -> dict[str, Any]:
    """alertmanager.yml: every alert to the user's webhook (or to nobody when none is set)."""
    am = settings.monitoring.alertmanager
    receiver: dict[str, Any] = {"name": "webhook"}
    if settings.monitoring.webhook_url is not None:
        receiver["webhook_configs"] = [{"url": str(settings.monitoring.webhook_url), "send_resolved": True}]
    return {
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname", "job"],
            "group_wait": f"{am.group_wait_s}s",
            "group_interval": f"{am.group_interval_s}s",
            "repeat_interval": am.repeat_interval,
        },
        "receivers": [receiver],
    }


def render(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"
