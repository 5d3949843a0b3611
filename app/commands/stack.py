"""Stack commands: up, down, status, logs, clean."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app import pipeline_metrics
from app.pseudonym_key import install_pseudonym_key
from app.transform import write_dbt_settings
from core import clients
from core.contracts.stream_tables import StreamTables
from core.local_secrets import ensure_local_secrets
from core.run_metrics import STREAM_LAST_COMMIT, read_samples, stream_cdr_source
from core.settings import LakehouseSettings, load_settings
from infra.launcher import Launcher, ServiceStatus
from infra.services import SERVICE_NAMES
from ingestion.streaming.tables import ensure_realtime_tables

out = Console()


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


def print_status(rows: list[ServiceStatus]) -> None:
    table = Table(title="lakehouse services")
    for column in ("service", "mode", "pid", "ports", "health", "RSS", "endpoint"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.name,
            "managed" if row.managed else "external",
            str(row.pid or "-"),
            ",".join(map(str, row.ports)) if row.managed else "-",
            ("[green]ok[/] " if row.health.ok else "[red]down[/] ") + row.health.detail,
            _mib(row.rss_bytes),
            row.url,
        )
    out.print(table)


def up() -> None:
    """Install what is missing, start every service and wait until each is healthy."""
    generated = ensure_local_secrets()
    if generated:
        out.print(f"generated local credentials in .env: {', '.join(generated)}")
    settings = load_settings(storage_root=True)  # MinIO's root: to start and provision it
    # Plain `dbt run` in dbt_project/ reads the profile and settings macro rendered here.
    write_dbt_settings(settings)
    began = time.monotonic()
    rows = Launcher(settings).up()
    install_pseudonym_key(settings)  # where the models' SQL reads it (never quoted into SQL)
    ensure_realtime_tables(clients.iceberg_catalog(settings), StreamTables.of(settings.namespaces))
    print_status(rows)
    out.print(f"stack up in {time.monotonic() - began:.1f}s; state in {settings.home}")


def down() -> None:
    """Stop the streaming job and producer if running, then every managed service (data is kept)."""
    from app.stream_control import StreamProcesses
    from app.ui.server import UiServer

    settings = load_settings()
    page = [UiServer(settings).process.name] if UiServer(settings).stop() else []
    stopped = page + StreamProcesses(settings).stop() + Launcher(settings).down()
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status() -> None:
    """Show each service (mode, pid, ports, health, memory, endpoint) and the stream's processes."""
    from app.stream_control import StreamProcesses
    from app.ui.server import UiServer

    settings = load_settings()
    print_status(Launcher(settings).status())
    table = Table(title="stream")
    for column in ("process", "pid", "state", "RSS", "log"):
        table.add_column(column)
    for row in StreamProcesses(settings).status():
        color = {"running": "green", "failing": "yellow", "failed": "red"}.get(row.state.split()[0])
        state = f"[{color}]{escape(row.state)}[/]" if color else escape(row.state)
        table.add_row(row.name, str(row.pid or "-"), state, _mib(row.rss_bytes), str(row.log_file))
    out.print(table)
    page = UiServer(settings)
    pid = page.process.pid()
    health = ("[green]ok[/]" if page.healthy() else "[red]not answering[/]") if pid else "stopped"
    out.print(f"web page (make ui): {health} pid {pid or '-'} {page.url if pid else ''}")
    for line in key_numbers(settings):
        out.print(line)


def _age(seconds: float) -> str:
    return (
        f"{seconds:.0f}s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def key_numbers(settings: LakehouseSettings) -> list[str]:
    """The live numbers of `make status`: the stream's lag and last commit, the last pipeline run
    (from the metrics the job and the pipeline leave, and Kafka's end offsets)."""
    from ingestion.streaming.progress import lag

    files, now, topic = read_samples(settings), time.time(), settings.kafka.cdr_topic

    def value(source: str, name: str) -> float | None:
        return next((s.value for s in files.get(source, []) if s.name == name), None)

    try:
        behind = f"{lag(settings, topic):,} records"
    except Exception as exc:  # noqa: BLE001 - status reports what it cannot read
        behind = f"unknown ({exc})"
    committed = value(stream_cdr_source(topic), STREAM_LAST_COMMIT)
    commit = "never" if committed is None else f"{_age(now - committed)} ago"
    ran = value(pipeline_metrics.SOURCE, pipeline_metrics.LAST_RUN)
    if ran is None:
        pipeline = "never run"
    else:
        passed = value(pipeline_metrics.SOURCE, pipeline_metrics.LAST_RUN_SUCCESS) == 1
        failed = [
            s.labels.get("step", "?")
            for s in files[pipeline_metrics.SOURCE]
            if s.name == pipeline_metrics.STEP_SUCCESS and not s.value
        ]
        pipeline = (
            f"[green]published[/] {_age(now - ran)} ago"
            if passed
            else f"[red]failed[/] {_age(now - ran)} ago at {', '.join(failed) or 'an unknown step'}"
        )
    return [f"stream {escape(topic)}: lag {behind}; last commit {commit}", f"pipeline: {pipeline}"]


def logs(
    service: Annotated[
        str | None, typer.Argument(help=f"One of {', '.join(SERVICE_NAMES)}; default all.")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from the end of each log.")] = 20,
) -> None:
    """Show where each service logs, and the end of each log."""
    launcher = Launcher(load_settings())
    if service is not None and service not in SERVICE_NAMES:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(SERVICE_NAMES)}")
    for svc in launcher.services:
        if service in (None, svc.name):
            out.rule(f"{svc.name} — {svc.process.log_file}")
            out.print(svc.process.tail(lines) or "(empty)", markup=False, highlight=False)


def clean(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop the stack and delete all local data, logs and configs (downloads stay cached)."""
    settings = load_settings()
    if not yes:
        typer.confirm(f"Delete everything under {settings.home}?", abort=True)
    Launcher(settings).clean()
    out.print(f"removed {settings.home}")


def register(app: typer.Typer) -> None:
    for command in (up, down, status, logs, clean):
        app.command()(command)
