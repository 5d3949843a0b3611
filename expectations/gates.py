"""Run a gate: a GE checkpoint over one layer's tables on Trino, with Data Docs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import clients
from core.clients import is_transient_trino_failure
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)
DATASOURCE = "lakehouse_trino"


@dataclass
class GateResult:
    gate: str
    success: bool
    failures: list[str] = field(default_factory=list)
    evaluated: int = 0
    docs: Path | None = None


def docs_dir(settings: LakehouseSettings) -> Path:
    return settings.home / "data_docs"


def _context(settings: LakehouseSettings):  # type: ignore[no-untyped-def]
    """An ephemeral context: suites are rebuilt in code on every run, so nothing stale persists;
    only the Data Docs site is written, under the state dir."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="local",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir(settings)),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    context.data_sources.add_sql(name=DATASOURCE, **_trino_datasource(settings))
    return context


def _trino_datasource(settings: LakehouseSettings) -> dict[str, Any]:
    """The SQLAlchemy URL and connect arguments of Trino as the engineer.

    The password travels as a trino-python-client authentication object in ``connect_args``,
    not inside the URL, so it is in no string Great Expectations could print or render.
    """
    from trino.auth import BasicAuthentication

    t = settings.trino
    connect_args: dict[str, Any] = {"http_scheme": t.scheme}
    if t.scheme == "https":
        connect_args["verify"] = settings.trino_verify
        connect_args["auth"] = BasicAuthentication(t.user, t.password.get_secret_value())
    return {
        "connection_string": f"trino://{t.user}@{t.host}:{t.port}/{t.catalog}",
        "kwargs": {"connect_args": connect_args},
    }


def run_gate(settings: LakehouseSettings, gate: str, tables: dict[str, list], schema: str) -> GateResult:
    """Validate each ``schema.table`` against its expectations in one checkpoint."""
    with clients.trino_ca_bundle(settings):
        return _run_gate(settings, gate, tables, schema)


def _run_gate(settings: LakehouseSettings, gate: str, tables: dict[str, list], schema: str) -> GateResult:
    import great_expectations as gx

    context = _context(settings)
    datasource = context.data_sources.get(DATASOURCE)
    definitions = []
    for table, expectations in tables.items():
        name = f"{gate}.{table}"
        asset = datasource.add_table_asset(name=name, table_name=table, schema_name=schema)
        batch = asset.add_batch_definition_whole_table("all")
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        definitions.append(
            context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{gate}_gate",
            validation_definitions=definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format="SUMMARY",
        )
    )
    outcome = checkpoint.run()
    if not outcome.success and _only_transient_failures(outcome):
        outcome = checkpoint.run()  # e.g. Trino's catalog connection was stale (PostgreSQL restarted)
    result = GateResult(gate, bool(outcome.success), docs=_docs_index(settings))
    for validation in outcome.run_results.values():
        for item in validation.results:
            result.evaluated += 1
            if not item.success:
                result.failures.append(_describe(validation.suite_name, item))
    return result


def _only_transient_failures(outcome) -> bool:  # type: ignore[no-untyped-def]
    """Whether every failed expectation failed on a transient Trino failure, not on data."""
    failed = [item for v in outcome.run_results.values() for item in v.results if not item.success]
    return bool(failed) and all(is_transient_trino_failure(str(item.exception_info or "")) for item in failed)


def _describe(suite: str, item) -> str:  # type: ignore[no-untyped-def]
    config = item.expectation_config
    target = config.kwargs.get("column") or config.kwargs.get("column_A") or config.description or ""
    detail = item.result.get("unexpected_percent")
    observed = f" ({detail:.2f}% unexpected)" if isinstance(detail, float) else ""
    if item.exception_info and item.exception_info.get("raised_exception"):
        observed = f" (error: {item.exception_info.get('exception_message')})"
    return f"{suite}: {config.type} {target}{observed}".strip()


def _docs_index(settings: LakehouseSettings) -> Path | None:
    index = docs_dir(settings) / "index.html"
    return index if index.exists() else None
