"""The lakehouse exporter's collector: files served as metrics, lag per partition, disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.run_metrics import Sample, write_samples
from core.settings import LakehouseSettings, load_settings
from infra.exporter import LAG, LakehouseCollector


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(env_file=None, home=tmp_path)


def _scrape(settings: LakehouseSettings, end_offsets: object) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry()
    registry.register(LakehouseCollector(settings, end_offsets))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _job_file(settings: LakehouseSettings, topic: str, offsets: dict[int, int]) -> None:
    labels = {"topic": topic}
    write_samples(settings, f"stream-cdr-{topic}", [
        Sample("lakehouse_stream_rows_landed_total", 42, labels, "counter", "rows"),
        *(Sample("lakehouse_stream_processed_offset", o, {**labels, "partition": str(p)})
          for p, o in offsets.items()),
    ])  # fmt: skip


def test_lag_is_end_minus_processed_per_partition_never_negative(settings: LakehouseSettings) -> None:
    _job_file(settings, "cdr.events", {0: 10, 1: 30})
    scraped = _scrape(settings, lambda topic: {0: 25, 1: 30, 2: 7})
    lag = {
        dict(k[1])["partition"]: v
        for k, v in scraped.items()
        if k[0] == "lakehouse_stream_consumer_lag_records"
    }
    assert lag == {"0": 15, "1": 0, "2": 7}  # partition 2: nothing processed yet
    assert scraped[("lakehouse_kafka_topic_end_offset", (("partition", "0"), ("topic", "cdr.events")))] == 25
    assert scraped[("lakehouse_stream_rows_landed_total", (("topic", "cdr.events"),))] == 42


def test_a_topic_kafka_cannot_answer_for_costs_only_its_lag(settings: LakehouseSettings) -> None:
    _job_file(settings, "gone", {0: 5})
    _job_file(settings, "cdr.events", {0: 5})

    def end_offsets(topic: str) -> dict[int, int]:
        if topic == "gone":
            raise RuntimeError("UNKNOWN_TOPIC_OR_PART")
        return {0: 9}

    scraped = _scrape(settings, end_offsets)
    lags = {k[1]: v for k, v in scraped.items() if k[0] == LAG}
    assert lags == {(("partition", "0"), ("topic", "cdr.events")): 4}
    assert scraped[("lakehouse_stream_rows_landed_total", (("topic", "gone"),))] == 42


def test_the_state_dirs_disk_is_served(settings: LakehouseSettings) -> None:
    scraped = _scrape(settings, lambda topic: {})
    size, free = (
        scraped[("lakehouse_state_dir_size_bytes", ())],
        scraped[("lakehouse_state_dir_free_bytes", ())],
    )
    assert 0 < free <= size


def test_same_metric_from_two_sources_is_one_family(settings: LakehouseSettings) -> None:
    _job_file(settings, "a", {})
    _job_file(settings, "b", {})
    write_samples(settings, "broken", [])
    (settings.run_dir / "metrics" / "torn.json").write_text("[{")  # skipped, not fatal
    scraped = _scrape(settings, lambda topic: {})
    landed = [k for k in scraped if k[0] == "lakehouse_stream_rows_landed_total"]
    assert sorted(dict(k[1])["topic"] for k in landed) == ["a", "b"]


def test_a_child_given_only_some_secrets_gets_the_others_blank() -> None:
    settings = LakehouseSettings(
        _env_file=None, kafka={"stream_password": "k-secret-0123456789"}, trino={"password": "t-secret"}
    )
    env = settings.to_env(only_secrets={"LAKEHOUSE_KAFKA__STREAM_PASSWORD"})
    assert env["LAKEHOUSE_KAFKA__STREAM_PASSWORD"] == "k-secret-0123456789"
    assert env["LAKEHOUSE_TRINO__PASSWORD"] == ""
    assert env["LAKEHOUSE_KAFKA__PORT"] == str(settings.kafka.port)
    assert settings.to_env()["LAKEHOUSE_TRINO__PASSWORD"] == "t-secret"
