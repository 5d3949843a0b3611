"""Metrics files: atomic replace per source, read back as written, a broken file left out."""

from __future__ import annotations

from pathlib import Path

from core.run_metrics import Sample, metrics_dir, read_samples, write_samples
from core.settings import LakehouseSettings, load_settings


def _settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(env_file=None, home=tmp_path)


def test_samples_read_back_as_written_and_a_rewrite_replaces_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = [Sample("lakehouse_x_total", 3, {"topic": "cdr"}, "counter", "x")]
    write_samples(settings, "job", first)
    assert read_samples(settings) == {"job": first}
    second = [Sample("lakehouse_y", 1.5)]
    write_samples(settings, "job", second)
    assert read_samples(settings) == {"job": second}
    assert [p.name for p in metrics_dir(settings).iterdir()] == ["job.json"]  # no partial left


def test_a_broken_file_is_left_out_and_the_others_are_served(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    write_samples(settings, "good", [Sample("lakehouse_ok", 1)])
    (metrics_dir(settings) / "broken.json").write_text('[{"name": "lakehouse_half"')
    (metrics_dir(settings) / "wrong.json").write_text('[{"no_such_field": 1}]')
    assert list(read_samples(settings)) == ["good"]


def test_no_directory_means_no_samples(tmp_path: Path) -> None:
    assert read_samples(_settings(tmp_path)) == {}
