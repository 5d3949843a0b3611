"""Runs of the web page: the exact `lakehouse generate` command, and states read back from disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ui.runs import RunRequest, list_runs, read_run, runs_dir
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
