"""The `lakehouse` command: a thin Typer layer over the library.

Logging is configured here, once. Expected failures (:class:`LakehouseError`) end with their
message and exit code, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from core.exceptions import LakehouseError

app = typer.Typer(
    name="lakehouse",
    help="CDR lakehouse: run the local stack, generate CDRs, build and check the layers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)
_OURS = ("app", "core", "infra", "generator", "ingestion", "expectations")


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    handler = RichHandler(console=err, show_path=False, rich_tracebacks=verbose)
    if not verbose:
        # Client libraries log retries at INFO (and the trino client resets its own level on
        # import), so filter at the handler: their warnings still show.
        handler.addFilter(lambda record: record.levelno >= logging.WARNING or record.name.startswith(_OURS))
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])


def _register() -> None:
    # Each module imports its heavy libraries inside its commands: `lakehouse --help` stays fast.
    from app.commands import dashboards, export, generate, pipeline, sql, stack, stream, ui

    for commands in (stack, generate, pipeline, export, stream, sql, dashboards, ui):
        commands.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LakehouseError as exc:
        # The message is text, not markup ("[9, 17]" stays), and unwrapped: it is copied and grepped.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
