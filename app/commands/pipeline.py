"""`lakehouse pipeline` and `lakehouse dbt`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from core import clients
from core.settings import load_settings

out = Console()


def pipeline(
    max_defect_rate: Annotated[
        float, typer.Option(help="Raw gate: highest share of new rows breaking any one rule.")
    ] = 0.05,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a pipeline already running (default: do not wait).")
    ] = 0.0,
) -> None:
    """Raw gate, dbt clean, clean gate, dbt analytics, analytics gate, publish - stopping at the
    first failure, with nothing published (readers keep the last audited state)."""
    settings = load_settings()
    settings.require_pseudonym_key()  # before the lock and the raw gate, not at the first dbt step
    from functools import partial

    from app.pipeline import Steps, run_pipeline
    from app.pipeline_lock import pipeline_lock
    from expectations.suites import Thresholds

    def say(message: str) -> None:
        out.print(message, markup=False, highlight=False)  # "[raw gate]" is text, not markup

    steps = Steps(lock=partial(pipeline_lock, wait_seconds=wait))
    thresholds = Thresholds(raw_max_defect_rate=max_defect_rate)
    with clients.service_loss_reported(
        settings,
        "pipeline stopped",
        "nothing was published (readers keep the last good state): run it again once the service is back",
    ):
        report = run_pipeline(settings, thresholds, say=say, steps=steps)
    total = sum(seconds for _, seconds, _ in report.steps)
    published = f"; publication {report.publication.number}" if report.publication else ""
    out.print(f"[green]pipeline succeeded[/] in {total:.1f}s{published}")


def dbt(ctx: typer.Context) -> None:
    """Run dbt on dbt_project/ with the lakehouse's settings, e.g. `lakehouse dbt run`."""
    from app.transform import run_dbt

    run_dbt(load_settings(), ctx.args)


def register(app: typer.Typer) -> None:
    app.command()(pipeline)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(dbt)
