"""The stream queries' metrics: totals grow per commit, and a failed write never fails a batch."""

from __future__ import annotations

from pathlib import Path

from core.run_metrics import metrics_dir, read_samples
from core.settings import load_settings
from ingestion.streaming.metrics import AlertQueryMetrics, CdrQueryMetrics, record_job_state


def test_cdr_totals_grow_with_each_commit(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, home=tmp_path)
    metrics = CdrQueryMetrics(settings, "cdr.events")
    metrics.committed(landed=10, quarantined=1, seconds=2.5, ends={0: 7, 1: 4})
    metrics.committed(landed=5, quarantined=0, seconds=1.0, ends={0: 12, 1: 5})
    samples = read_samples(settings)["stream-cdr-cdr.events"]
    values = {s.name: s.value for s in samples}
    offsets = {
        s.labels["partition"]: s.value for s in samples if s.name == "lakehouse_stream_processed_offset"
    }
    assert offsets == {"0": 12, "1": 5}
    assert values["lakehouse_stream_rows_landed_total"] == 15
    assert values["lakehouse_stream_rows_quarantined_total"] == 1
    assert values["lakehouse_stream_batches_total"] == 2
    assert values["lakehouse_stream_batch_duration_seconds"] == 1.0
    assert values["lakehouse_stream_last_commit_timestamp_seconds"] > 1.7e9


def test_an_unwritable_metrics_dir_costs_the_metric_not_the_batch(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, home=tmp_path)
    metrics_dir(settings).parent.mkdir(parents=True)
    metrics_dir(settings).write_text("a file where the directory should be")
    alerts = AlertQueryMetrics(settings, "cdr.events")
    alerts.committed(3)  # logs a warning, raises nothing
    assert alerts.raised == 3


def test_the_job_state_says_failed_and_counts_restarts_per_query(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, home=tmp_path)
    record_job_state(settings, "cdr.events", failed=True, restarts={"cdr": 2, "alerts": 0})
    samples = read_samples(settings)["stream-job-cdr.events"]
    failed = [s.value for s in samples if s.name == "lakehouse_stream_job_failed"]
    restarts = {
        s.labels["query"]: s.value for s in samples if s.name == "lakehouse_stream_query_restarts_total"
    }
    assert failed == [1.0] and restarts == {"cdr": 2, "alerts": 0}
