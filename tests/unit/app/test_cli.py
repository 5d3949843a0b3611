"""The CLI ends expected failures with a message and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from generator.config import DEFAULT_CONFIG


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    lakehouse = Path(sys.executable).with_name("lakehouse")
    return subprocess.run(
        [str(lakehouse), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )


def test_bad_setting_exits_2_naming_the_field_without_traceback() -> None:
    result = run_cli("status", LAKEHOUSE_KAFKA__PARTITIONS="0")
    assert result.returncode == 2
    assert "kafka.partitions" in result.stderr
    assert "LAKEHOUSE_KAFKA__PARTITIONS" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_the_stack_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("up", "down", "status", "logs", "clean"):
        assert command in result.stdout


def test_pipeline_without_a_pseudonym_key_exits_2_before_touching_a_service() -> None:
    # The Trino and PostgreSQL ports point nowhere: reaching them would be another error.
    result = run_cli(
        "pipeline", LAKEHOUSE_PSEUDONYM_KEY="", LAKEHOUSE_TRINO__PORT="1", LAKEHOUSE_POSTGRES__PORT="1"
    )
    assert result.returncode == 2, result.stderr
    assert "LAKEHOUSE_PSEUDONYM_KEY is not set" in result.stderr
    assert "at least 32 characters" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_short_pseudonym_key_stops_every_command_naming_the_variable() -> None:
    result = run_cli("status", LAKEHOUSE_PSEUDONYM_KEY="too-short")
    assert result.returncode == 2
    assert "LAKEHOUSE_PSEUDONYM_KEY" in result.stderr and "at least 32 characters" in result.stderr
    assert "too-short" not in result.stderr


@pytest.fixture
def no_kafka() -> dict[str, str]:
    """Settings of a Kafka that is down: a port nothing listens on, deliveries given up after 1 s."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {
        "LAKEHOUSE_KAFKA__PORT": str(port),
        "LAKEHOUSE_KAFKA__DELIVERY_TIMEOUT_S": "1",
        "LAKEHOUSE_KAFKA__PRODUCER_PASSWORD": "producer-password-0123",
    }


def _refused_delivery(result: subprocess.CompletedProcess[str], topic: str) -> None:
    assert result.returncode == 7, result.stderr
    assert f"messages to {topic} were not delivered" in result.stderr
    assert "first error: _MSG_TIMED_OUT" in result.stderr
    assert "delivered" not in result.stdout and "sent" not in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def _generate_metrics(home: Path, target: str) -> dict[str, float]:
    samples = json.loads((home / "run" / "metrics" / f"generate-{target}.json").read_text())
    assert {s["labels"]["target"] for s in samples} == {target}
    return {s["name"].removeprefix("lakehouse_generate_last_run_"): s["value"] for s in samples}


def test_generate_to_kafka_that_is_down_exits_7_naming_the_undelivered(
    tmp_path: Path, no_kafka: dict[str, str]
) -> None:
    result = run_cli(
        "generate", "--to", "kafka", "--days", "1", "--subscribers", "300", "--rows", "500",
        LAKEHOUSE_HOME=str(tmp_path), **no_kafka,
    )  # fmt: skip
    _refused_delivery(result, "cdr.events")
    assert _generate_metrics(tmp_path, "kafka")["success"] == 0  # the exporter serves the failure


def test_generate_leaves_its_rows_and_rate_for_the_exporter(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run_cli(
        "generate", "--to", "parquet", "--days", "1", "--subscribers", "300", "--rows", "2000",
        "--output", str(tmp_path / "out"), "--report", str(report), LAKEHOUSE_HOME=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = _generate_metrics(tmp_path, "parquet")
    assert metrics["success"] == 1
    assert metrics["rows"] == json.loads(report.read_text())["rows"] > 0
    assert metrics["rows_per_second"] == pytest.approx(metrics["rows"] / metrics["duration_seconds"])


def _small_config(tmp_path: Path) -> Path:
    """The default generator config at 300 subscribers: a producer ready in a second."""
    config = tmp_path / "small.toml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("subscribers = 20000", "subscribers = 300"))
    return config


def test_stream_produce_to_kafka_that_is_down_exits_7(tmp_path: Path, no_kafka: dict[str, str]) -> None:
    config = _small_config(tmp_path)
    result = run_cli(
        "stream", "produce", "--config", str(config), "--events", "300", "--rate", "100000",
        "--topic", "cdr.down", "--no-record-truth", **no_kafka,
    )  # fmt: skip
    _refused_delivery(result, "cdr.down")


def test_stream_produce_with_the_catalog_down_exits_7_before_sending(
    tmp_path: Path, no_kafka: dict[str, str]
) -> None:
    """The truth of a cycle is recorded before its first event: with no catalog, nothing is sent
    that `stream score` could not judge, and the error names the catalog and the way out."""
    config = _small_config(tmp_path)
    port = no_kafka["LAKEHOUSE_KAFKA__PORT"]
    result = run_cli(
        "stream", "produce", "--config", str(config), "--events", "300", "--topic", "cdr.down",
        LAKEHOUSE_POSTGRES__PORT=port, LAKEHOUSE_POSTGRES__PASSWORD="x",
        LAKEHOUSE_S3__SECRET_KEY="unit-test-s3-secret", **no_kafka,
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert f"the catalog database (PostgreSQL at 127.0.0.1:{port}) failed" in errors[0]
    assert "--no-record-truth" in errors[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_generate_into_iceberg_with_the_catalog_down_exits_7_in_one_line(no_kafka: dict[str, str]) -> None:
    """A lost catalog database (here: a port nothing listens on) is named, with what to do; the
    fault matrix (tests/integration/test_faults.py) kills it mid-load for real."""
    port = no_kafka["LAKEHOUSE_KAFKA__PORT"]  # a free port: nothing listens there either
    result = run_cli(
        "generate", "--days", "1", "--subscribers", "300", "--rows", "500", "--namespace", "unit_down",
        LAKEHOUSE_POSTGRES__PORT=port, LAKEHOUSE_POSTGRES__PASSWORD="x",
        LAKEHOUSE_S3__SECRET_KEY="unit-test-s3-secret",  # set, or it stops before connecting
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert f"the catalog database (PostgreSQL at 127.0.0.1:{port}) failed" in errors[0]
    assert "run the same command again" in errors[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_sql_without_a_running_trino_exits_7_in_one_line(tmp_path: Path) -> None:
    """A fresh state dir (no stack started there yet) and then a Trino port nothing listens on:
    one line each, naming `make up`, before any Java starts or the CLI's jar is fetched."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {
        "LAKEHOUSE_HOME": str(tmp_path),
        "LAKEHOUSE_TRINO__PORT": port,
        "LAKEHOUSE_TRINO__ANALYST_PASSWORD": "analyst-password-0123",
    }
    fresh = run_cli("sql", "--execute", "SELECT 1", **env)
    assert fresh.returncode == 7, fresh.stderr
    assert "does not exist yet: start it with `make up`" in fresh.stderr
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_text("")
    down = run_cli("sql", "--execute", "SELECT 1", **env)
    assert down.returncode == 7, down.stderr
    assert f"Trino at https://127.0.0.1:{port} is not reachable" in down.stderr
    assert "Traceback" not in fresh.stderr + down.stderr + fresh.stdout + down.stdout


def test_sql_refuses_to_turn_certificate_verification_off() -> None:
    result = run_cli("sql", "--insecure", "--execute", "SELECT 1")
    assert result.returncode == 2
    assert "does not take --insecure" in result.stderr
    assert "Traceback" not in result.stderr
