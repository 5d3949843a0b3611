"""`lakehouse generate`: make CDRs (``generator``) and land them with a sink (``ingestion``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.generate_metrics import record_generate_run
from core.settings import LakehouseSettings, load_settings
from generator.config import GeneratorConfig, load_config, scale_to_rows
from generator.run import Generation

if TYPE_CHECKING:
    from ingestion.iceberg_batch import LoadResult

out = Console()


class Target(StrEnum):
    iceberg = "iceberg"
    parquet = "parquet"
    kafka = "kafka"


EXAMPLES = """
Examples:

  lakehouse generate                                 # default set into Iceberg (raw.*)

  lakehouse generate --days 7 --subscribers 50000 --seed 7

  lakehouse generate --to parquet --output data/    # files + ground truth + manifest

  lakehouse generate --to kafka --rows 100000 --rate 5000
"""


def generate(
    to: Annotated[Target, typer.Option(help="Where the events go.")] = Target.iceberg,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Generator config (TOML).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: same config + seed = same rows.")] = None,
    days: Annotated[int | None, typer.Option(help="Days to generate.")] = None,
    start: Annotated[datetime | None, typer.Option(help="First local day, e.g. 2025-12-29.")] = None,
    subscribers: Annotated[int | None, typer.Option(help="Number of subscribers.")] = None,
    rows: Annotated[int | None, typer.Option(help="Approximate total events (scales traffic rates).")] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Iceberg namespace (iceberg target; default: namespaces.raw).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory (parquet target).")] = Path(
        "data"
    ),
    rate: Annotated[float | None, typer.Option(help="Events/s ceiling (kafka target).")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the run's report as JSON here.")] = None,
    progress_file: Annotated[
        Path | None, typer.Option(help="Keep the run's progress here as JSON (the web page reads it).")
    ] = None,
) -> None:
    """Generate CDRs (voice, SMS, data) with reference data, incidents and defects."""
    settings = load_settings()
    cfg = load_config(
        config, seed=seed, days=days, start=start, subscribers=subscribers, time_zone=settings.time_zone
    )
    if rows is not None:
        cfg = scale_to_rows(cfg, rows)
    generation = Generation(cfg)
    began, landed = time.monotonic(), False
    try:
        _run(settings, generation, cfg, to, namespace or settings.namespaces.raw, output, rate, progress_file)
        landed = True
    finally:
        record_generate_run(settings, to.value, generation.report.rows, time.monotonic() - began, landed)
    summary = generation.report.as_dict()
    out.print_json(json.dumps(summary))
    if report is not None:
        write_json_atomically(report, summary)


def _run(
    settings: LakehouseSettings,
    generation: Generation,
    cfg: GeneratorConfig,
    to: Target,
    namespace: str,
    output: Path,
    rate: float | None,
    progress_file: Path | None = None,
) -> None:
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:,} events"),
        TimeElapsedColumn(),
    )
    with progress:
        task = progress.add_task(
            f"{cfg.days} days, {cfg.subscribers:,} subscribers", total=generation.units, rows=0
        )

        def advance(batch_rows: int) -> None:
            progress.update(task, advance=1, rows=progress.tasks[task].fields["rows"] + batch_rows)
            if progress_file is not None:
                done = progress.tasks[task]
                write_json_atomically(
                    progress_file,
                    {
                        "units_done": int(done.completed),
                        "units": generation.units,
                        "rows": done.fields["rows"],
                    },
                )

        if to is Target.iceberg:
            result = _load_iceberg(settings, generation, namespace, advance)
            progress.stop()
            if "cdr" in result.skipped:
                out.print(
                    f"batch {generation.batch_id} was already loaded into {namespace}.cdr: nothing added"
                )
            else:
                out.print(f"loaded {result.rows} into {namespace}.*")
        elif to is Target.parquet:
            from ingestion.parquet_sink import write_parquet

            root = write_parquet(generation, output, on_batch=advance)
            progress.stop()
            out.print(f"wrote {root}")
        else:
            from ingestion.kafka_sink import produce_generation

            # Counts what the broker acknowledged; raises (exit 7) when any event was not delivered.
            delivered = produce_generation(settings, generation, rate=rate, on_batch=advance)
            progress.stop()
            out.print(f"delivered {delivered:,} events to {settings.kafka.cdr_topic}")


def write_json_atomically(path: Path, value: object) -> None:
    """Write JSON so that a reader sees the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value, indent=2) + "\n")
    partial.replace(path)


def _load_iceberg(
    settings: LakehouseSettings, generation: Generation, namespace: str, advance: Callable[[int], None]
) -> LoadResult:
    """Load into Iceberg; a catalog database or object store lost on the way is a
    ServiceUnavailableError (exit 7, one line), not a traceback. Nothing half-written is
    visible: each table's commit is atomic and a batch is loaded once, so the same command
    run again completes the load."""
    from core import clients
    from ingestion.iceberg_batch import load_generation

    with clients.service_loss_reported(
        settings,
        f"loading batch {generation.batch_id} into {namespace} stopped",
        "run the same command again to complete it (a batch lands once)",
    ):
        return load_generation(clients.iceberg_catalog(settings), generation, namespace, on_batch=advance)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLES)(generate)
