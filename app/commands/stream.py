"""`lakehouse stream ...` (the Kafka -> Iceberg streaming job, the live producer) and `lakehouse maintain`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.realtime_scores import DEFAULT_MIN_COVER
from core.settings import load_settings
from generator.live import Pace

if TYPE_CHECKING:
    from generator.live import LiveCycle

# How often the live producer leaves its totals for the exporter (a scrape is every 5 s).
METRICS_EVERY_S = 5.0

out = Console()
stream_app = typer.Typer(help="Live CDRs: Kafka -> Spark Structured Streaming -> Iceberg, with alerts.")


@stream_app.command()
def start(
    rate: Annotated[float | None, typer.Option(help="Live events/s (default: stream.rate).")] = None,
    pace: Annotated[Pace, typer.Option(help="steady rate, or following the daily curve.")] = Pace.steady,
) -> None:
    """Start the streaming job and the live producer in the background."""
    import time

    from app.stream_control import FIRST_BATCH_TIMEOUT, StreamProcesses

    settings = load_settings()
    processes = StreamProcesses(settings)
    began = time.monotonic()
    with out.status("starting the streaming job (Spark)"):
        processes.start(rate or settings.stream.rate, pace.value)
    for row in processes.status():
        out.print(f"{row.name}: running (pid {row.pid}) — log {row.log_file}")
    with out.status("waiting for the first micro-batch to commit"):
        committed = processes.wait_for_first_commit()
    table = f"{settings.trino.catalog}.{settings.namespaces.raw}.cdr"
    if committed:
        out.print(f"events landing in {table} ({time.monotonic() - began:.0f} s after start)")
    else:
        out.print(f"[yellow]no micro-batch committed yet after {FIRST_BATCH_TIMEOUT} s; see the job's log")
    out.print("`make stream-stop` stops both")


@stream_app.command()
def stop() -> None:
    """Stop the live producer, then the streaming job."""
    from app.stream_control import StreamProcesses

    stopped = StreamProcesses(load_settings()).stop()
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was streaming")


@stream_app.command()
def run(
    topic: Annotated[str | None, typer.Option(help="CDR topic (default: kafka.cdr_topic).")] = None,
) -> None:
    """Run the streaming job in the foreground (what `stream start` runs in the background)."""
    from infra.spark_runtime import ensure_spark_runtime
    from ingestion.streaming.job import run_job

    settings = load_settings()
    runtime = ensure_spark_runtime(settings)
    run_job(settings, runtime.java_home, runtime.jars, topic)


@stream_app.command()
def produce(
    rate: Annotated[float | None, typer.Option(help="Events/s (default: stream.rate).")] = None,
    pace: Annotated[Pace, typer.Option(help="steady rate, or following the daily curve.")] = Pace.steady,
    events: Annotated[int | None, typer.Option(help="Stop after this many events (default: never).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Generator config (TOML).")] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="World seed: subscribers and cells (default: the config's, as `generate`)."),
    ] = None,
    event_seed: Annotated[
        int | None, typer.Option(help="Events seed (default: from the clock, so ids never repeat).")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="CDR topic (default: kafka.cdr_topic).")] = None,
    record_truth: Annotated[
        bool,
        typer.Option(
            help="Record each cycle's incidents in <raw>_truth.live_incidents (for `stream score`)."
        ),
    ] = True,
) -> None:
    """Send live CDRs to Kafka at a set rate (foreground)."""
    from core import clients
    from generator.config import load_config
    from generator.live import live_events
    from ingestion.kafka_sink import CdrProducer
    from ingestion.live_truth import record_live_truth

    settings = load_settings()
    cfg = load_config(config, seed=seed, time_zone=settings.time_zone)
    producer = CdrProducer(settings, topic)  # logs failed deliveries as they come (at 1, 10, 100 ...)

    def record(cycle: LiveCycle) -> None:
        # Before the cycle's first event is sent: no alert on it can come before its truth.
        span = (cycle.start_us, cycle.end_us)
        with clients.service_loss_reported(
            settings, "no events sent for this cycle", "start the stack (`make up`) or pass --no-record-truth"
        ):
            catalog = clients.iceberg_catalog(settings)
            record_live_truth(catalog, settings.namespaces.raw, cycle.run_id, cycle.cycle, span, cycle.truth)

    reported = time.monotonic()
    try:
        for part in live_events(
            cfg,
            rate or settings.stream.rate,
            pace,
            limit=events,
            event_seed=event_seed,
            on_truth=record if record_truth else None,
        ):
            producer.send(part)
            if time.monotonic() - reported >= METRICS_EVERY_S:  # Prometheus' rate() needs fresh totals
                producer.record_metrics()
                reported = time.monotonic()
        delivered = producer.flush()  # raises (exit 7) when any event was not delivered
    finally:
        producer.record_metrics()
    out.print(f"delivered {delivered:,} events to {producer.topic}")


@stream_app.command()
def score(
    run_id: Annotated[str | None, typer.Option(help="Producer run (default: the last one).")] = None,
    min_cover: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Share of a window an incident must cover to count.")
    ] = DEFAULT_MIN_COVER,
) -> None:
    """Score the real-time alerts against what the live producer injected."""
    from rich.table import Table

    from app.realtime_scores import score_realtime_alerts

    result = score_realtime_alerts(load_settings(), run_id, min_cover)
    table = Table(title=f"real-time alerts of {result.run_id}: {result.windows_closed:,} windows closed")
    for column in ("metric", "type", "scored", "matched", "score"):
        table.add_column(column, justify="right" if column in ("scored", "matched", "score") else "left")
    for s in result.scores:
        shown = "-" if s.score is None else f"{s.score:.3f}"
        table.add_row(s.metric, s.type_name, f"{s.scored:,}", f"{s.matched:,}", shown)
    out.print(table)


def maintain(
    older_than_hours: Annotated[
        float, typer.Option(help="Expire snapshots and remove unreferenced files older than this.")
    ] = 24.0,
) -> None:
    """Compact small files, expire old snapshots and remove orphan files of the raw tables."""
    from ingestion.maintenance import maintain_tables

    for report in maintain_tables(load_settings(), older_than_hours=older_than_hours):
        out.print(
            f"{report.table}: files {report.files_before} -> {report.files_after}, "
            f"snapshots {report.snapshots_before} -> {report.snapshots_after} in {report.seconds:.1f}s"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(stream_app, name="stream")
    app.command()(maintain)
