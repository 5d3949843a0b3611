"""Write-audit-publish: readers see a layer only once every gate has passed.

dbt builds clean and analytics into their candidate namespaces (settings.namespaces
``clean_candidate`` / ``analytics_candidate``) and the intermediate checks into
``intermediate``: the tables the pipeline *owns*. After the last gate, :func:`publish` makes one
commit to the publication ledger (``<quality>.publications``) recording the snapshot of every
owned table, then points a view per candidate table in ``clean`` / ``analytics`` at that
snapshot (``FOR VERSION AS OF``). The ledger commit is the moment of publication.

:func:`restore` puts every owned table back to its published snapshot (and drops tables no
publication knows), and re-points views a crash left behind. The pipeline runs it first - so a
run killed anywhere leaves nothing half-built for the next one - and after any failure, so a
failed gate leaves readers and the incremental state exactly where the last good run left them
and the run after the fix recomputes from there, with no full refresh.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from core import clients
from core.exceptions import PublicationError
from core.settings import LakehouseSettings
from ingestion.iceberg_tables import ensure_table

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

log = logging.getLogger(__name__)
LEDGER = "publications"
DBT_TEMPORARY_SUFFIX = "__dbt_tmp"  # dbt-trino's scratch relations: never published
LEDGER_SCHEMA = pa.schema(
    [
        pa.field("publication", pa.int64(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("snapshot_id", pa.int64(), nullable=False),
        pa.field("published_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
_PIN = re.compile(r"FOR VERSION AS OF (\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Publication:
    """One publication: the snapshot of every owned table (``namespace.table`` -> id)."""

    number: int
    snapshots: dict[str, int]


def ledger_table(settings: LakehouseSettings) -> str:
    return f"{settings.namespaces.quality}.{LEDGER}"


def owned_tables(settings: LakehouseSettings, catalog: Catalog) -> list[str]:
    """Tables the pipeline builds: intermediate and the two candidate namespaces."""
    ns = settings.namespaces
    names = []
    for namespace in (ns.intermediate, ns.clean_candidate, ns.analytics_candidate):
        if catalog.namespace_exists(namespace):
            names += [f"{namespace}.{table}" for _, table in catalog.list_tables(namespace)]
    return sorted(names)


def latest_publication(settings: LakehouseSettings, catalog: Catalog) -> Publication | None:
    """The last publication in the ledger (None before the first successful run)."""
    if not catalog.table_exists(ledger_table(settings)):
        return None
    rows = catalog.load_table(ledger_table(settings)).scan().to_arrow()
    if rows.num_rows == 0:
        return None
    number = max(rows.column("publication").to_pylist())
    latest = rows.filter(pc.equal(rows.column("publication"), number))
    names, snapshots = latest.column("table_name").to_pylist(), latest.column("snapshot_id").to_pylist()
    return Publication(number, dict(zip(names, snapshots, strict=True)))


def restore(settings: LakehouseSettings) -> list[str]:
    """Put every owned table back to its published snapshot; drop the unpublished; re-point views.
    Idempotent. Returns what it changed (empty when all was in place)."""
    catalog = clients.iceberg_catalog(settings)
    published = latest_publication(settings, catalog)
    pins = published.snapshots if published else {}
    changed = []
    for name in owned_tables(settings, catalog):
        target = pins.get(name)
        if target is None:
            clients.trino_query(settings, f"DROP TABLE IF EXISTS {name}")
            changed.append(f"dropped {name} (never published)")
            continue
        table = catalog.load_table(name)
        if table.metadata.current_snapshot_id == target:
            continue
        if table.snapshot_by_id(target) is None:
            raise PublicationError(
                f"{name}: its published snapshot {target} no longer exists (expired by hand?); "
                "rebuild with `lakehouse dbt build --full-refresh` and run the pipeline"
            )
        table.manage_snapshots().set_current_snapshot(snapshot_id=target).commit()
        changed.append(f"{name} back to snapshot {target}")
    if published is not None:
        changed += sync_views(settings, published)
    return changed


def current_snapshots(settings: LakehouseSettings, catalog: Catalog) -> dict[str, int]:
    """The current snapshot of every owned table that has one (dbt scratch tables excluded)."""
    found = {}
    for name in owned_tables(settings, catalog):
        if name.endswith(DBT_TEMPORARY_SUFFIX):
            continue
        snapshot = catalog.load_table(name).metadata.current_snapshot_id
        if snapshot is not None:
            found[name] = snapshot
    return found


def publish(settings: LakehouseSettings) -> Publication:
    """Record the audited snapshots in one ledger commit, then point the readers' views at them."""
    catalog = clients.iceberg_catalog(settings)
    previous = latest_publication(settings, catalog)
    publication = Publication((previous.number if previous else 0) + 1, current_snapshots(settings, catalog))
    catalog.create_namespace_if_not_exists(settings.namespaces.quality)
    ledger = ensure_table(catalog, ledger_table(settings), LEDGER_SCHEMA)
    now = datetime.now(UTC)
    names = sorted(publication.snapshots)
    ledger.append(
        pa.Table.from_pydict(
            {
                "publication": [publication.number] * len(names),
                "table_name": names,
                "snapshot_id": [publication.snapshots[n] for n in names],
                "published_at": [now] * len(names),
            },
            schema=LEDGER_SCHEMA,
        )
    )
    sync_views(settings, publication)
    return publication


def sync_views(settings: LakehouseSettings, publication: Publication) -> list[str]:
    """Make the views in ``clean`` / ``analytics`` pin exactly the published snapshots: create or
    re-point what differs, drop our views whose table is no longer published."""
    published_in = settings.namespaces.published()
    wanted: dict[str, tuple[str, int]] = {}
    for name, snapshot in publication.snapshots.items():
        namespace, table = name.split(".", 1)
        if namespace in published_in:
            wanted[f"{published_in[namespace]}.{table}"] = (name, snapshot)
    existing = _views(settings, sorted(set(published_in.values())))
    changed = []
    for view, (source, snapshot) in sorted(wanted.items()):
        if existing.get(view) != snapshot:
            clients.trino_query(settings, f"CREATE SCHEMA IF NOT EXISTS {view.split('.', 1)[0]}")
            clients.trino_query(
                settings,
                f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source} FOR VERSION AS OF {snapshot}",
            )
            changed.append(f"{view} -> {source}@{snapshot}")
    for view in sorted(set(existing) - set(wanted)):
        clients.trino_query(settings, f"DROP VIEW IF EXISTS {view}")
        changed.append(f"dropped view {view} (no longer published)")
    return changed


def _views(settings: LakehouseSettings, schemas: list[str]) -> dict[str, int]:
    """Our views in ``schemas`` (those pinning a snapshot) -> the snapshot each pins."""
    listed = ", ".join(f"'{schema}'" for schema in schemas)
    rows = clients.trino_query(
        settings,
        "SELECT table_schema, table_name, view_definition FROM information_schema.views "
        f"WHERE table_schema IN ({listed})",
    )
    pinned = {}
    for schema, name, definition in rows:
        match = _PIN.search(definition or "")
        if match:
            pinned[f"{schema}.{name}"] = int(match.group(1))
    return pinned
