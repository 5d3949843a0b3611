"""Generation runs started from the web page: `lakehouse generate` as detached processes.

A run is a directory under ``<home>/ui/runs/<run id>/`` holding the scenario it ran
(``scenario.toml``), what was asked (``request.json``), the command's progress and report
(written by ``lakehouse generate --progress-file --report``) and its log. The process runs in its
own session, so closing the browser tab or restarting the page does not stop it, and the page
finds it again by reading the directory. The command is the CLI's own: a run from the page is
exactly ``lakehouse generate --config scenario.toml``, idempotent the same way.
"""

from __future__ import annotations

import json
import secrets
import time
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from app.stream_control import lakehouse_argv
from core.exceptions import ConfigError
from core.settings import LakehouseSettings
from infra.process import ManagedProcess

Target = Literal["iceberg", "parquet", "kafka"]
TARGETS: tuple[Target, ...] = ("iceberg", "parquet", "kafka")


@dataclass(frozen=True)
class RunRequest:
    """Where a run's events go: an Iceberg namespace, Parquet files, or Kafka at a rate."""

    target: Target
    namespace: str | None = None  # iceberg: default namespaces.raw
    rate: float | None = None  # kafka: events/s ceiling; None = as fast as the broker takes

    def argv(self, run_dir: Path) -> list[str]:
        """The `lakehouse generate` arguments of this request."""
        if self.target not in TARGETS:
            raise ConfigError(f"run target: {self.target!r} is not one of {', '.join(TARGETS)}")
        args = ["generate", "--config", str(run_dir / "scenario.toml"), "--to", self.target]
        args += ["--report", str(run_dir / "report.json"), "--progress-file", str(run_dir / "progress.json")]
        if self.target == "iceberg" and self.namespace:
            args += ["--namespace", self.namespace]
        if self.target == "parquet":
            args += ["--output", str(run_dir / "parquet")]
        if self.target == "kafka" and self.rate is not None:
            if self.rate <= 0:
                raise ConfigError(f"run rate: must be greater than 0 events/s; got {self.rate!r}")
            args += ["--rate", str(self.rate)]
        return args


@dataclass(frozen=True)
class RunState:
    """One run as the page shows it."""

    run_id: str
    directory: Path
    request: RunRequest
    started: datetime
    state: Literal["running", "finished", "failed"]
    units_done: int
    units: int
    rows: int
    report: dict[str, object] | None
    log_tail: str
    seconds: float | None = None  # wall time from start to report, once finished

    @property
    def fraction(self) -> float:
        return 1.0 if self.state == "finished" else (self.units_done / self.units if self.units else 0.0)


def runs_dir(settings: LakehouseSettings) -> Path:
    return settings.home / "ui" / "runs"


def _process(run_dir: Path) -> ManagedProcess:
    return ManagedProcess(f"ui-run-{run_dir.name}", run_dir / "run.pid", run_dir / "run.log")


def start_run(settings: LakehouseSettings, scenario_toml: str, request: RunRequest) -> RunState:
    """Start a generation in the background; refused while another run of the page is active
    (two runs would share the two cores and the pipeline's input at once)."""
    active = [run for run in list_runs(settings) if run.state == "running"]
    if active:
        raise ConfigError(f"run {active[0].run_id} is still running; wait for it or stop it first")
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    run_dir = runs_dir(settings) / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "scenario.toml").write_text(scenario_toml, encoding="utf-8")
    argv = request.argv(run_dir)  # refuses a bad request before anything starts
    (run_dir / "request.json").write_text(json.dumps(asdict(request)) + "\n")
    _process(run_dir).start(lakehouse_argv(*argv), env=settings.to_env())
    return read_run(run_dir)


def stop_run(run_dir: Path) -> bool:
    """Stop a running run (SIGTERM). An Iceberg load commits each table atomically, so a
    stopped run leaves whole tables or nothing; running it again completes it."""
    return _process(run_dir).stop(timeout=30)


def _json(path: Path) -> dict[str, object] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_run(run_dir: Path) -> RunState:
    """The state of one run from its directory."""
    request = RunRequest(**(_json(run_dir / "request.json") or {"target": "iceberg"}))  # type: ignore[arg-type]
    progress = _json(run_dir / "progress.json") or {}
    report = _json(run_dir / "report.json")
    process = _process(run_dir)
    state: Literal["running", "finished", "failed"] = (
        "running" if process.is_running() else "finished" if report is not None else "failed"
    )
    started = datetime.strptime(run_dir.name.split("-")[0], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    seconds = None
    if report is not None:
        # request.json is written just before the process starts, report.json as it ends.
        seconds = (run_dir / "report.json").stat().st_mtime - (run_dir / "request.json").stat().st_mtime
    return RunState(
        run_id=run_dir.name,
        directory=run_dir,
        request=request,
        started=started,
        state=state,
        units_done=int(progress.get("units_done", 0)),  # type: ignore[call-overload]
        units=int(progress.get("units", 0)),  # type: ignore[call-overload]
        rows=int(progress.get("rows", 0)),  # type: ignore[call-overload]
        report=report,
        log_tail="" if state == "finished" else process.tail(15),
        seconds=seconds,
    )


def parquet_archive(run: RunState) -> Path:
    """A zip of a finished Parquet run's files, built once beside them (stored, not deflated:
    Parquet pages are compressed already)."""
    if run.request.target != "parquet" or run.state != "finished":
        raise ConfigError(f"run {run.run_id} is not a finished Parquet run")
    archive = run.directory / "parquet.zip"
    if not archive.exists():
        partial = archive.with_name(".parquet.zip.partial")
        root = run.directory / "parquet"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                bundle.write(file, file.relative_to(root))
        partial.replace(archive)
    return archive


def list_runs(settings: LakehouseSettings) -> list[RunState]:
    """Every run of the page, newest first."""
    root = runs_dir(settings)
    dirs = sorted((d for d in root.iterdir() if d.is_dir()), reverse=True) if root.is_dir() else []
    return [read_run(d) for d in dirs]


def wait_for(run_dir: Path, timeout: float) -> RunState:
    """Poll until the run has ended (for tests and scripts; the page polls by itself)."""
    deadline = time.monotonic() + timeout
    while (run := read_run(run_dir)).state == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    return run
