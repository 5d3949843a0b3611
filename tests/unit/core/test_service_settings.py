"""The object store's identities: one per engine, root for the launcher only, clear errors."""

from __future__ import annotations

import pytest

from core.exceptions import ConfigError
from core.local_secrets import GENERATED_SECRETS
from core.settings import ROOT_PASSWORD_VARIABLE, LakehouseSettings, load_settings

MANAGED_SECRETS = {
    "secret_key": "lakehouse-secret",
    "trino_secret_key": "trino-secret-1",
    "spark_secret_key": "spark-secret-1",
    "reader_secret_key": "reader-secret-1",
    "root_password": "root-secret-123",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)


def _settings(**s3: object) -> LakehouseSettings:
    return LakehouseSettings(_env_file=None, s3=s3)  # type: ignore[arg-type]


def test_managed_every_engine_has_its_own_identity_and_root_is_apart() -> None:
    s3 = _settings(**MANAGED_SECRETS).s3
    keys = {engine: s3.identity(engine).access_key for engine in ("lakehouse", "trino", "spark", "reader")}
    assert keys == {
        "lakehouse": "lakehouse",
        "trino": "lakehouse-trino",
        "spark": "lakehouse-spark",
        "reader": "lakehouse-reader",
    }
    assert s3.identity("trino").secret() == "trino-secret-1"
    assert s3.identity("trino").variable == "LAKEHOUSE_S3__TRINO_SECRET_KEY"
    assert (s3.root().access_key, s3.root().secret()) == ("lakehouse-root", "root-secret-123")
    assert "trino-secret-1" not in repr(s3.identity("trino"))


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("trino_secret_key", "LAKEHOUSE_S3__TRINO_SECRET_KEY"),
        ("spark_secret_key", "LAKEHOUSE_S3__SPARK_SECRET_KEY"),
        ("reader_secret_key", "LAKEHOUSE_S3__READER_SECRET_KEY"),
    ],
)
def test_managed_a_missing_engine_secret_is_refused_naming_its_variable(field: str, variable: str) -> None:
    s3 = _settings(**{**MANAGED_SECRETS, field: ""}).s3
    engine = field.removesuffix("_secret_key")
    with pytest.raises(ConfigError, match=f"^{variable} is not set") as caught:
        s3.identity(engine)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2


def test_a_missing_root_password_or_own_secret_is_refused_naming_its_variable() -> None:
    with pytest.raises(ConfigError, match=f"^{ROOT_PASSWORD_VARIABLE} is not set"):
        _settings(**{**MANAGED_SECRETS, "root_password": ""}).s3.root()
    with pytest.raises(ConfigError, match=r"^LAKEHOUSE_S3__SECRET_KEY is not set"):
        _settings(**{**MANAGED_SECRETS, "secret_key": ""}).s3.identity("lakehouse")


def test_external_engines_fall_back_to_the_common_key_unless_given_their_own() -> None:
    s3 = _settings(managed=False, access_key="team", secret_key="team-secret", spark_secret_key="sp").s3
    trino = s3.identity("trino")
    assert (trino.access_key, trino.secret(), trino.variable) == (
        "team",
        "team-secret",
        "LAKEHOUSE_S3__SECRET_KEY",
    )
    spark = s3.identity("spark")  # its own secret, with the default access key name
    assert (spark.access_key, spark.secret()) == ("lakehouse-spark", "sp")


def test_external_an_access_key_without_its_secret_is_refused() -> None:
    s3 = _settings(managed=False, secret_key="team-secret", reader_access_key="auditor").s3
    with pytest.raises(ConfigError) as caught:
        s3.identity("reader")
    assert (
        str(caught.value)
        == "LAKEHOUSE_S3__READER_ACCESS_KEY is set but LAKEHOUSE_S3__READER_SECRET_KEY is not"
    )


def test_managed_identities_must_be_distinct_minio_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_S3__SPARK_ACCESS_KEY", "lakehouse-trino")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "s3.spark_access_key" in message and "LAKEHOUSE_S3__SPARK_ACCESS_KEY" in message
    assert "the same access key as LAKEHOUSE_S3__TRINO_ACCESS_KEY" in message


def test_managed_a_secret_minio_would_refuse_is_named_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_S3__READER_SECRET_KEY", "short")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert "LAKEHOUSE_S3__READER_SECRET_KEY" in message and "at least 8 characters" in message
    assert "short" not in message


def test_only_the_launcher_keeps_the_root_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOT_PASSWORD_VARIABLE, "root-secret-123")
    assert load_settings(env_file=None).s3.root_password.get_secret_value() == ""
    launcher = load_settings(env_file=None, storage_root=True)
    assert launcher.s3.root_password.get_secret_value() == "root-secret-123"
    # Children (stream job, CLI runs) get it blank, which also hides the .env's value from them.
    env = launcher.to_env()
    assert env[ROOT_PASSWORD_VARIABLE] == ""
    assert "root-secret-123" not in env.values()
    assert env["LAKEHOUSE_S3__SPARK_ACCESS_KEY"] == "lakehouse-spark"


def test_every_engine_secret_and_the_root_password_are_generated() -> None:
    for variable in (
        "LAKEHOUSE_S3__SECRET_KEY",
        "LAKEHOUSE_S3__TRINO_SECRET_KEY",
        "LAKEHOUSE_S3__SPARK_SECRET_KEY",
        "LAKEHOUSE_S3__READER_SECRET_KEY",
        ROOT_PASSWORD_VARIABLE,
    ):
        assert GENERATED_SECRETS[variable] >= 32
