"""`lakehouse export`: the published analytics tables as Parquet and CSV files for BI (``app.bi_export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from core import clients
from core.settings import load_settings

out = Console()

EXAMPLES = """
Examples:

  lakehouse export                                    # every published analytics table

  lakehouse export --tables kpi_region_daily,dim_date --output /srv/share/cdr
"""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size, unit = count / 1024, "KiB"
    for larger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


def export(
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--tables", "-t", help="Tables to export, comma-separated or repeated (default: every one)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Export directory, replaced as a whole (default: <state dir>/exports/analytics).",
        ),
    ] = None,
) -> None:
    """Write the latest publication's analytics tables to Parquet and CSV files (with a manifest)
    that Power BI and spreadsheets read as they are."""
    from app.bi_export import export_analytics, parse_table_list

    settings = load_settings()

    def said(entry: dict[str, Any], seconds: float) -> None:
        files = "  ".join(f"{file['format']} {_size(file['bytes'])}" for file in entry["files"])
        out.print(
            f"{entry['name']}: {entry['rows']:,} rows  {files}  {seconds:.1f} s",
            highlight=False,
            soft_wrap=True,
        )

    with clients.service_loss_reported(
        settings, "export stopped", "the previous export is unchanged: run it again once the service is back"
    ):
        report = export_analytics(settings, output, parse_table_list(tables), on_table=said)
    rate = report.rows / report.seconds if report.seconds else 0.0
    out.print(
        f"[green]exported[/] {len(report.tables)} tables, {report.rows:,} rows of publication "
        f"{report.publication} to {report.output} in {report.seconds:.1f} s ({rate:,.0f} rows/s)",
        highlight=False,
        soft_wrap=True,  # one line however narrow the terminal: the path is copied and grepped
    )


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLES)(export)
