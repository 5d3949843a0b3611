"""`lakehouse ui`: the generator's web page (configure, preview, run), in the background."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from core.settings import load_settings

out = Console()


def ui(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the page (runs it started go on).")] = False,
) -> None:
    """Start the generator's web page on ui.host:ui.port and print its address."""
    from app.ui.server import UiServer

    server = UiServer(load_settings())
    if stop:
        out.print("stopped the web page" if server.stop() else "the web page was not running")
        return
    with out.status("starting the web page"):
        url = server.start()
    out.print(f"generator web page: {url} (log {server.process.log_file}); `make down` stops it")


def register(app: typer.Typer) -> None:
    app.command()(ui)
