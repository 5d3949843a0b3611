"""Monitoring settings: defaults that avoid our own ports, and the env variables that set them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.monitoring_settings import MonitoringSettings
from core.settings import LakehouseSettings


def test_defaults_bind_localhost_and_avoid_kafka_ports() -> None:
    monitoring = MonitoringSettings()
    assert monitoring.prometheus.url == "http://127.0.0.1:9090"
    assert monitoring.alertmanager.port == 9095  # 9093 is Kafka's controller
    assert monitoring.postgres_exporter.port == 9187
    assert monitoring.webhook_url is None


def test_env_sets_nested_monitoring_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_MONITORING__WEBHOOK_URL", "http://127.0.0.1:5001/alerts")
    monkeypatch.setenv("LAKEHOUSE_MONITORING__PROMETHEUS__MANAGED", "false")
    settings = LakehouseSettings(_env_file=None)
    assert str(settings.monitoring.webhook_url) == "http://127.0.0.1:5001/alerts"
    assert settings.monitoring.prometheus.managed is False


def test_bad_retention_is_refused() -> None:
    with pytest.raises(ValidationError):
        MonitoringSettings.model_validate({"prometheus": {"retention": "forever"}})
