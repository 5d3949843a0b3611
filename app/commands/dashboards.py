"""`lakehouse dashboards import|export`: Superset's dashboards as code (dashboards/bundle/)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.settings import load_settings

if TYPE_CHECKING:
    from infra.services.superset import SupersetService

out = Console()
dashboards = typer.Typer(help="Superset's dashboards as code: import dashboards/bundle/, export back to it.")
_BUNDLE = typer.Option("--bundle", help="The bundle directory (default: dashboards/bundle/).")


def _superset() -> SupersetService:
    # Imported here, not at the top: `lakehouse --help` stays fast.
    from infra.artifacts import ArtifactCache
    from infra.services.superset import SupersetService

    settings = load_settings()
    return SupersetService(settings, ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository))


@dashboards.command("import")
def import_(bundle: Annotated[Path | None, _BUNDLE] = None) -> None:
    """Import the bundle into Superset, overwriting what it defines (twice: the same objects)."""
    service = _superset()
    out.print(service.import_dashboards(*([bundle] if bundle else [])), markup=False, highlight=False)


@dashboards.command("export")
def export(bundle: Annotated[Path | None, _BUNDLE] = None) -> None:
    """Write the dashboards as edited in Superset's UI into the bundle as YAML, for git diff."""
    service = _superset()
    out.print(service.export_dashboards(*([bundle] if bundle else [])), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards, name="dashboards")
