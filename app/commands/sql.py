"""`lakehouse sql`: the Trino CLI, logged in to the lakehouse as the analyst."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from core.settings import load_settings


def sql(
    ctx: typer.Context,
    engineer: Annotated[
        bool,
        typer.Option(
            "--engineer",
            help="Log in as the engineer on the writable catalog (reads and writes every schema): "
            "for maintenance by hand, not for reading marts.",
        ),
    ] = False,
) -> None:
    """Open a SQL shell on Trino as the analyst: the published marts, read-only.

    Catalog iceberg_readonly, schema analytics; history in the state dir (.lakehouse/sql_history).

    Other arguments go to the Trino CLI: --execute 'SELECT count(*) FROM kpi_region_daily'.

    `lakehouse sql -- --help` lists the CLI's options. Its exit code is this command's.
    """
    from infra.artifacts import ArtifactCache
    from infra.services.base import java_binary
    from infra.trino_cli import (
        build_command,
        check_arguments,
        check_reachable,
        exec_cli,
        history_file,
        needs_server,
        prepare_history,
        shell_identity,
    )

    settings = load_settings()
    args = list(ctx.args)
    # Usage and settings errors (exit 2) before any network or download.
    check_arguments(args)
    shell_identity(settings, engineer)
    if needs_server(args):
        check_reachable(settings)
    cache = ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository)
    jar = cache.ensure_trino_cli()  # downloaded once, re-hashed at every use
    command = build_command(
        settings, java_binary(settings), jar, args, engineer=engineer, terminal=sys.stdout.isatty()
    )
    prepare_history(history_file(settings))
    exec_cli(command)


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(sql)
