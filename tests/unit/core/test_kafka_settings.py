"""Kafka's identities: settings, validation, and the client configurations built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import clients
from core.exceptions import ConfigError
from core.kafka_auth import KAFKA_IDENTITIES
from core.local_secrets import GENERATED_SECRETS, ensure_local_secrets
from core.settings import load_settings

PASSWORDS = {f"{identity}_password": f"{identity}-password-0123456789" for identity in KAFKA_IDENTITIES}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)


def test_the_managed_broker_defaults_to_scram_over_sasl_plaintext() -> None:
    kafka = load_settings(env_file=None).kafka
    assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert [kafka.user(i) for i in KAFKA_IDENTITIES] == ["admin", "producer", "stream"]


def test_each_identity_connects_with_its_own_name_and_password() -> None:
    settings = load_settings(env_file=None, kafka=PASSWORDS)
    for identity in KAFKA_IDENTITIES:
        config = clients.kafka_config(settings, identity, acks="all")
        assert config["security.protocol"] == "SASL_PLAINTEXT"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["sasl.username"] == identity
        assert config["sasl.password"] == PASSWORDS[f"{identity}_password"]
        assert config["acks"] == "all"


def test_an_unset_password_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env_file=None, kafka={"admin_password": PASSWORDS["admin_password"]})
    with pytest.raises(ConfigError, match="LAKEHOUSE_KAFKA__STREAM_PASSWORD is not set"):
        clients.kafka_config(settings, "stream")


def test_the_managed_broker_refuses_another_protocol_or_mechanism_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, kafka={"security_protocol": "PLAINTEXT"})
    message = str(caught.value)
    assert "kafka.security_protocol" in message and "LAKEHOUSE_KAFKA__SECURITY_PROTOCOL" in message
    assert "allowed: SASL_PLAINTEXT" in message
    with pytest.raises(ConfigError, match=r"kafka.sasl_mechanism.*allowed: SCRAM-SHA-512"):
        load_settings(env_file=None, kafka={"sasl_mechanism": "PLAIN"})


def test_an_unknown_protocol_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, kafka={"managed": False, "security_protocol": "SSL_PLAIN"})
    assert "'SASL_PLAINTEXT', 'SASL_SSL' or 'PLAINTEXT'" in str(caught.value)


def test_an_external_plaintext_broker_gets_no_credentials() -> None:
    settings = load_settings(env_file=None, kafka={"managed": False, "security_protocol": "PLAINTEXT"})
    config = clients.kafka_config(settings, "producer")
    assert config == {"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "PLAINTEXT"}
    assert clients.spark_kafka_options(settings, "stream") == {
        "kafka.bootstrap.servers": "127.0.0.1:9092",
        "kafka.security.protocol": "PLAINTEXT",
    }


def test_a_weak_managed_password_is_refused_without_echoing_it() -> None:
    for weak in ("short-password", 'quote"and,comma-0123456789'):
        with pytest.raises(ConfigError) as caught:
            load_settings(env_file=None, kafka={"producer_password": weak})
        assert "kafka.producer_password" in str(caught.value)
        assert weak not in str(caught.value)


def test_identities_must_be_distinct_users() -> None:
    with pytest.raises(ConfigError, match="must differ"):
        load_settings(env_file=None, kafka={"stream_user": "admin"})


def test_spark_options_carry_a_jaas_config_with_quotes_escaped() -> None:
    settings = load_settings(
        env_file=None,
        kafka={"managed": False, "security_protocol": "SASL_SSL", "stream_password": 'pa"ss\\word'},
    )
    options = clients.spark_kafka_options(settings, "stream")
    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert options["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="stream" password="pa\\"ss\\\\word";'
    )


def test_generated_kafka_passwords_are_valid_for_the_managed_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    generated = ensure_local_secrets(env_file)
    kafka_variables = [f"LAKEHOUSE_KAFKA__{identity.upper()}_PASSWORD" for identity in KAFKA_IDENTITIES]
    assert set(kafka_variables) <= set(generated)
    kafka = load_settings(env_file=env_file).kafka  # validated: long enough, safe characters
    passwords = {kafka.require_password(identity) for identity in KAFKA_IDENTITIES}
    assert len(passwords) == 3
