"""Settings: precedence, validation messages, generated local secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.exceptions import ConfigError
from core.local_secrets import GENERATED_SECRETS, ensure_local_secrets
from core.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_bind_loopback_and_share_one_catalog_name() -> None:
    settings = load_settings(env_file=None)
    assert {settings.postgres.host, settings.s3.host, settings.trino.host, settings.kafka.host} == {
        "127.0.0.1"
    }
    assert settings.catalog.name == "lakehouse"
    assert settings.s3.warehouse == "s3://warehouse/"


def test_nested_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_TRINO__PORT", "18080")
    monkeypatch.setenv("LAKEHOUSE_S3__MANAGED", "false")
    monkeypatch.setenv("LAKEHOUSE_S3__HOST", "s3.example.internal")
    settings = load_settings(env_file=None)
    assert settings.trino.port == 18080
    assert settings.s3.managed is False
    assert settings.s3.endpoint == "http://s3.example.internal:9000"


def test_env_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LAKEHOUSE_KAFKA__PORT=19092\nLAKEHOUSE_TRINO__PORT=18081\n")
    monkeypatch.setenv("LAKEHOUSE_TRINO__PORT", "18082")
    settings = load_settings(env_file=env_file)
    assert settings.kafka.port == 19092
    assert settings.trino.port == 18082


def test_invalid_port_names_the_field_the_variable_and_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_TRINO__PORT", "99999")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "trino.port" in message
    assert "LAKEHOUSE_TRINO__PORT" in message
    assert "65535" in message
    assert caught.value.exit_code == 2


def test_invalid_choice_lists_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_S3__SCHEME", "ftp")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert "s3.scheme" in str(caught.value)
    assert "'http' or 'https'" in str(caught.value)


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_POSTGRES__PASSWORD", "hunter2-very-secret")
    settings = load_settings(env_file=None)
    assert "hunter2-very-secret" not in repr(settings)
    assert settings.postgres.password.get_secret_value() == "hunter2-very-secret"


def test_local_secrets_are_generated_once_private_and_random(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    generated = ensure_local_secrets(env_file)
    assert sorted(generated) == sorted(GENERATED_SECRETS)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    first = env_file.read_text()
    assert ensure_local_secrets(env_file) == []
    assert env_file.read_text() == first

    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line)
    assert len(set(values.values())) == len(GENERATED_SECRETS)
    assert all(len(value) >= 24 for value in values.values())
    settings = load_settings(env_file=env_file)
    assert settings.s3.secret_key.get_secret_value() == values["LAKEHOUSE_S3__SECRET_KEY"]


def test_existing_values_are_kept_and_only_missing_ones_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LAKEHOUSE_POSTGRES__PASSWORD=mine")  # no trailing newline
    monkeypatch.setenv("LAKEHOUSE_PSEUDONYM_KEY", "from-the-environment")
    generated = ensure_local_secrets(env_file)
    kept = {"LAKEHOUSE_POSTGRES__PASSWORD", "LAKEHOUSE_PSEUDONYM_KEY"}
    assert generated == [name for name in GENERATED_SECRETS if name not in kept]
    lines = env_file.read_text().splitlines()
    assert lines[0] == "LAKEHOUSE_POSTGRES__PASSWORD=mine"
    assert [line.split("=", 1)[0] for line in lines[1:]] == generated


def test_bad_stream_setting_names_the_nested_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_STREAM__ALERTS__FAILURE_POINTS", "1.5")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "stream.alerts.failure_points" in message
    assert "LAKEHOUSE_STREAM__ALERTS__FAILURE_POINTS" in message


def test_stream_settings_reach_the_job_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_STREAM__TRIGGER_SECONDS", "2.5")
    monkeypatch.setenv("LAKEHOUSE_STREAM__ALERTS__WINDOW_SECONDS", "60")
    settings = load_settings(env_file=None)
    assert (settings.stream.trigger_seconds, settings.stream.alerts.window_seconds) == (2.5, 60)
    env = settings.to_env()
    assert env["LAKEHOUSE_STREAM__TRIGGER_SECONDS"] == "2.5"
    assert env["LAKEHOUSE_STREAM__ALERTS__WINDOW_SECONDS"] == "60"


def test_an_unset_pseudonym_key_loads_but_is_refused_where_it_is_used() -> None:
    settings = load_settings(env_file=None)  # `lakehouse status`, `generate` ... need no key
    assert settings.pseudonym_key.get_secret_value() == ""
    with pytest.raises(ConfigError) as caught:
        settings.require_pseudonym_key()
    assert "LAKEHOUSE_PSEUDONYM_KEY is not set" in str(caught.value)
    assert "at least 32 characters" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("key", ["short-secret-value", "Z" * 31])
def test_a_short_pseudonym_key_is_refused_naming_the_variable_and_the_length(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("LAKEHOUSE_PSEUDONYM_KEY", key)
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "pseudonym_key: " in message and "(set LAKEHOUSE_PSEUDONYM_KEY)" in message
    assert "at least 32 characters" in message and f"this one has {len(key)}" in message
    assert key not in message, "the secret is not echoed"


def test_a_short_key_set_past_validation_is_refused_where_it_is_used() -> None:
    settings = load_settings(env_file=None).model_copy(update={"pseudonym_key": SecretStr("k" * 20)})
    with pytest.raises(ConfigError, match=r"LAKEHOUSE_PSEUDONYM_KEY: .*at least 32 characters.*has 20"):
        settings.require_pseudonym_key()


def test_keys_of_32_characters_and_generated_keys_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_PSEUDONYM_KEY", "k" * 32)
    assert load_settings(env_file=None).require_pseudonym_key() == "k" * 32
    monkeypatch.delenv("LAKEHOUSE_PSEUDONYM_KEY")
    env_file = tmp_path / ".env"
    ensure_local_secrets(env_file)
    assert len(load_settings(env_file=env_file).require_pseudonym_key()) >= 32
