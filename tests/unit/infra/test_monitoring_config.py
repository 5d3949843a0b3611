"""Prometheus' and Alertmanager's rendered configs: the targets, TLS to Trino, no secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from core.exceptions import ConfigError
from core.monitoring_settings import AlertThresholds
from core.settings import LakehouseSettings
from infra.services.monitoring_config import (
    RULES_FILE,
    alertmanager_config,
    prometheus_config,
    render,
    render_rules,
)
from infra.services.prometheus import minio_metrics_token


def _settings(**env: str) -> LakehouseSettings:
    return LakehouseSettings(_env_file=None, **env)


def test_prometheus_scrapes_every_service_without_secrets(tmp_path: Path) -> None:
    settings = _settings(trino={"password": "s3cret-engineer"}, s3={"root_password": "s3cret-root"})
    ca, token, pw = tmp_path / "ca.pem", tmp_path / "minio.token", tmp_path / "trino.pw"
    rules = tmp_path / "rules.yml"
    text = render(
        prometheus_config(
            settings, rules_file=rules, ca_file=ca, trino_password_file=pw, minio_token_file=token
        )
    )
    config = json.loads(text)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "alertmanager", "trino", "minio", "postgres", "lakehouse", "kafka"}
    assert jobs["kafka"]["static_configs"][0]["targets"] == ["127.0.0.1:9467"]
    assert jobs["lakehouse"]["static_configs"][0]["targets"] == ["127.0.0.1:9466"]
    assert jobs["trino"]["scheme"] == "https"
    assert jobs["trino"]["tls_config"] == {"ca_file": str(ca)}
    assert jobs["trino"]["basic_auth"] == {"username": "monitoring", "password_file": str(pw)}
    assert jobs["minio"]["authorization"]["credentials_file"] == str(token)
    assert jobs["alertmanager"]["static_configs"][0]["targets"] == ["127.0.0.1:9095"]
    assert config["rule_files"] == [str(rules)]
    assert "s3cret" not in text


def test_alertmanager_routes_to_the_configured_webhook() -> None:
    config = alertmanager_config(_settings(monitoring={"webhook_url": "http://127.0.0.1:5001/hook"}))
    assert config["route"]["receiver"] == "webhook"
    assert config["route"]["group_wait"] == "1s"
    assert config["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:5001/hook"


def test_alertmanager_without_webhook_has_a_silent_receiver() -> None:
    assert alertmanager_config(_settings())["receivers"] == [{"name": "webhook"}]


def test_without_a_managed_object_store_minio_is_not_scraped(tmp_path: Path) -> None:
    config = prometheus_config(
        _settings(),
        rules_file=tmp_path / "rules.yml",
        ca_file=tmp_path / "ca",
        trino_password_file=tmp_path / "pw",
        minio_token_file=None,
    )
    assert "minio" not in {j["job_name"] for j in config["scrape_configs"]}


def test_the_minio_metrics_token_is_an_hs512_jwt_signed_with_the_secret() -> None:
    token = minio_metrics_token("root-user", "root-secret", now=1_000, lifetime_s=60)
    header, body, signature = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(header)) == {"alg": "HS512", "typ": "JWT"}
    assert json.loads(decode(body)) == {"exp": 1_060, "sub": "root-user", "iss": "prometheus"}
    expected = hmac.new(b"root-secret", f"{header}.{body}".encode(), hashlib.sha512).digest()
    assert decode(signature) == expected
    assert minio_metrics_token("root-user", "other", now=1_000, lifetime_s=60) != token


def test_the_rules_take_their_thresholds_from_the_settings() -> None:
    assert "@" in RULES_FILE.read_text()  # the repo's file names its thresholds
    text = render_rules(AlertThresholds(stream_stalled_s=17, disk_free_share=0.25))
    assert "@" not in text
    assert "> 17)" in text and "< 0.25" in text
    assert "{{ $labels.topic }}" in text  # the rules' own templates are left alone


def test_an_unknown_threshold_in_the_rules_names_the_known_ones(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("expr: up > @stale_minutes@\n")
    with pytest.raises(ConfigError, match="@stale_minutes@ is not a setting; known: disk_free_share"):
        render_rules(AlertThresholds(), rules)


def test_versitygw_is_scraped_for_liveness_on_its_health_path(tmp_path: Path) -> None:
    config = prometheus_config(
        LakehouseSettings(_env_file=None, s3={"server": "versitygw", "port": 7070}),
        rules_file=tmp_path / "rules.yml",
        ca_file=tmp_path / "ca",
        trino_password_file=tmp_path / "pw",
        minio_token_file=None,
    )
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert "minio" not in jobs
    assert jobs["versitygw"]["metrics_path"] == "/health"
    assert jobs["versitygw"]["static_configs"] == [{"targets": ["127.0.0.1:7070"]}]
    assert "authorization" not in jobs["versitygw"]
