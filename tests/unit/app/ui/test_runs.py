"""Runs of the web page: the exact `lakehouse generate` command, and states read back from disk."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.ui.runs import RunRequest, list_runs, parquet_archive, read_run, runs_dir
from core.exceptions import ConfigError
from core.settings import LakehouseSettings


def test_a_request_is_the_clis_own_command(tmp_path: Path) -> None:
    argv = RunRequest("iceberg", namespace="ui_raw").argv(tmp_path)
    assert argv[:5] == ["generate", "--config", str(tmp_path / "scenario.toml"), "--to", "iceberg"]
    assert argv[-2:] == ["--namespace", "ui_raw"]
    assert RunRequest("kafka", rate=500).argv(tmp_path)[-2:] == ["--rate", "500"]
    assert "--output" in RunRequest("parquet").argv(tmp_path)


@pytest.mark.parametrize(
    ("request_", "message"),
    [(RunRequest("s3"), "not one of iceberg"), (RunRequest("kafka", rate=-1), "greater than 0")],  # type: ignore[arg-type]
)
def test_a_bad_request_is_refused_with_the_allowed_values(
    tmp_path: Path, request_: RunRequest, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        request_.argv(tmp_path)


def test_states_are_read_back_from_the_run_directory(tmp_path: Path) -> None:
    settings = LakehouseSettings(home=tmp_path)
    finished = runs_dir(settings) / "20261202T100000-aaaaaa"
    failed = runs_dir(settings) / "20261202T110000-bbbbbb"
    for run in (finished, failed):
        run.mkdir(parents=True)
        (run / "request.json").write_text(json.dumps({"target": "iceberg", "namespace": None, "rate": None}))
    (finished / "report.json").write_text(json.dumps({"batch_id": "gen-0", "rows": 7, "seconds": 1}))
    (failed / "progress.json").write_text(json.dumps({"units_done": 1, "units": 4, "rows": 10}))
    (failed / "run.log").write_text("error: the catalog database is unreachable\n")
    assert read_run(finished).state == "finished" and read_run(finished).fraction == 1.0
    lost = read_run(failed)
    assert (lost.state, lost.fraction, lost.rows) == ("failed", 0.25, 10)
    assert "unreachable" in lost.log_tail
    assert [r.run_id for r in list_runs(settings)] == [failed.name, finished.name]  # newest first


def test_a_finished_parquet_run_is_zipped_once_with_its_tree(tmp_path: Path) -> None:
    run_dir = runs_dir(LakehouseSettings(home=tmp_path)) / "20261202T120000-cccccc"
    (run_dir / "parquet" / "cdr").mkdir(parents=True)
    (run_dir / "parquet" / "cdr" / "part-0.parquet").write_bytes(b"PAR1 rows PAR1")
    (run_dir / "parquet" / "manifest.json").write_text("{}")
    (run_dir / "request.json").write_text(json.dumps({"target": "parquet", "namespace": None, "rate": None}))
    (run_dir / "report.json").write_text(json.dumps({"batch_id": "gen-1", "rows": 2, "seconds": 1}))
    run = read_run(run_dir)
    assert run.seconds is not None and run.seconds >= 0
    archive = parquet_archive(run)
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == ["cdr/part-0.parquet", "manifest.json"]
        assert bundle.read("cdr/part-0.parquet") == b"PAR1 rows PAR1"
    assert parquet_archive(run).stat().st_mtime_ns == archive.stat().st_mtime_ns  # built once


def test_only_a_finished_parquet_run_has_an_archive(tmp_path: Path) -> None:
    run_dir = runs_dir(LakehouseSettings(home=tmp_path)) / "20261202T130000-dddddd"
    run_dir.mkdir(parents=True)
    (run_dir / "request.json").write_text(json.dumps({"target": "iceberg", "namespace": None, "rate": None}))
    with pytest.raises(ConfigError, match="not a finished Parquet run"):
        parquet_archive(read_run(run_dir))
