"""BI exports: the published analytics tables as Parquet and CSV files that Power BI reads as they are.

What is exported is exactly one publication: the latest entry of the publication ledger
(:mod:`app.publication`) names the audited snapshot of every table in ``analytics_candidate``
that readers see as a view in ``analytics``, and every table is read at that snapshot with
PyIceberg - so all files come from the same publication even while the pipeline publishes the
next one. Nothing outside the published analytics namespace is ever read (the analytics layer
holds pseudonyms only), and object storage is read as the read-only S3 identity.

Tables stream to disk: one data file of the table is decoded at a time and rows are written in
row groups of :data:`ROW_GROUP_ROWS`, never the whole table. The export is written into a hidden
directory beside the output and renamed into place at the end (:func:`staged_directory`), so a
crash leaves either the previous export or none, never a half one; the same publication gives
byte-identical files. Column conventions (flat, microsecond timestamps, CSV text): :mod:`app.bi_formats`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from app.bi_formats import CSV_CONVENTIONS, csv_batch, describe_schema, export_schema, flatten_batch
from app.publication import Publication, latest_publication
from core import clients
from core.exceptions import ExportError
from core.settings import LakehouseSettings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

FORMAT = "cdr-lakehouse-bi-export"  # marks a directory as ours: only such a directory is replaced
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Rows per Parquet row group, and the most rows held in memory besides one decoded data file.
ROW_GROUP_ROWS = 128 * 1024
# Snappy: the codec every Parquet reader has, Power BI's included.
PARQUET_COMPRESSION = "snappy"
# Excel takes a CSV without a byte-order mark for the locale's code page and garbles accents.
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class TableSource:
    """One table to export: its published name, where it is read, and its batches."""

    name: str  # the table readers see in the analytics namespace; also the files' stem
    source: str  # ``namespace.table`` it is read from (the candidate table behind the view)
    snapshot_id: int
    schema: pa.Schema  # of the batches ``batches()`` yields
    batches: Callable[[], Iterator[pa.RecordBatch]]  # opened only when the table is written


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: the directory, the publication and each table's manifest entry."""

    output: Path
    publication: int
    tables: list[dict[str, Any]]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(table["rows"] for table in self.tables)


def default_output(settings: LakehouseSettings) -> Path:
    """``<state dir>/exports/analytics``: ignored by git like the data it comes from, removed by
    `make clean` with it, and one stable path, so a Power BI report refreshes from the same place
    whatever the publication (the manifest says which one it holds)."""
    return settings.home / "exports" / settings.namespaces.analytics


def published_analytics(settings: LakehouseSettings, publication: Publication) -> dict[str, tuple[str, int]]:
    """Each published analytics table (the name of its view) -> (candidate table, snapshot id)."""
    candidate = settings.namespaces.analytics_candidate
    found = {}
    for name, snapshot in sorted(publication.snapshots.items()):
        namespace, table = name.split(".", 1)
        if namespace == candidate:
            found[table] = (name, snapshot)
    return found


def parse_table_list(values: Sequence[str] | None) -> list[str] | None:
    """``--tables a,b --tables c`` -> ``[a, b, c]``; None (every table) when none was given."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    return [name for name in names if name] or None


def select_tables(available: Iterable[str], requested: Sequence[str] | None) -> list[str]:
    """The tables to export, sorted: every available one, or the requested ones if all exist."""
    allowed = sorted(available)
    if requested is None:
        return allowed
    unknown = sorted(set(requested) - set(allowed))
    if unknown:
        raise ExportError(
            f"unknown table{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"the published analytics tables are {', '.join(allowed)}"
        )
    return sorted(set(requested))


def reader_catalog(settings: LakehouseSettings) -> Catalog:
    """The shared catalog with object storage signed as the read-only identity: an export can
    read the warehouse and never change it."""
    from pyiceberg.catalog.sql import SqlCatalog

    reader = settings.s3.identity("reader")
    properties = clients.iceberg_properties(settings) | {
        "s3.access-key-id": reader.access_key,
        "s3.secret-access-key": reader.secret(),
    }
    return SqlCatalog(settings.catalog.name, **properties)


def iceberg_source(catalog: Catalog, name: str, source: str, snapshot_id: int) -> TableSource:
    """``source`` at ``snapshot_id``, one data file at a time.

    PyIceberg's ``to_arrow_batch_reader`` submits every file of the scan to its thread pool at
    once and keeps each file's batches until they are consumed: a table bigger than memory would
    be held in it. Reading task by task (a data file and its delete files) in path order keeps one
    file decoded at a time and the row order the same on every run.
    """
    from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow

    table = catalog.load_table(source)
    if table.snapshot_by_id(snapshot_id) is None:
        raise ExportError(
            f"{source}: its published snapshot {snapshot_id} no longer exists (expired by hand?); "
            "run `make pipeline` to publish again"
        )
    scan = table.scan(snapshot_id=snapshot_id)
    projected = scan.projection()
    schema = schema_to_pyarrow(projected, include_field_ids=False)

    def batches() -> Iterator[pa.RecordBatch]:
        for task in sorted(scan.plan_files(), key=lambda task: task.file.file_path):
            reader = ArrowScan(scan.table_metadata, scan.io, projected, scan.row_filter, scan.case_sensitive)
            for batch in reader.to_record_batches([task]):
                yield batch.cast(schema)  # e.g. large_string of an older file -> the schema's type

    return TableSource(name, source, snapshot_id, schema, batches)


def export_analytics(
    settings: LakehouseSettings,
    output: Path | None = None,
    tables: Sequence[str] | None = None,
    on_table: Callable[[dict[str, Any], float], None] | None = None,
) -> ExportReport:
    """Export the latest publication's analytics tables (or ``tables``) to ``output``.

    Raises ExportError when nothing was published yet, a table is unknown, or the output is in
    the way; ``on_table`` is told each table's manifest entry and seconds as it is written.
    """
    began = time.monotonic()
    catalog = reader_catalog(settings)
    publication = latest_publication(settings, catalog)
    if publication is None:
        raise ExportError(
            "nothing has been published yet, so there is nothing to export: "
            "run `make pipeline` (lakehouse pipeline) first"
        )
    published = published_analytics(settings, publication)
    if not published:
        raise ExportError(
            f"publication {publication.number} holds no {settings.namespaces.analytics} table: "
            "run `make pipeline`"
        )
    sources = [iceberg_source(catalog, name, *published[name]) for name in select_tables(published, tables)]
    target = (output or default_output(settings)).expanduser().absolute()
    entries = write_export(target, publication.number, settings.namespaces.analytics, sources, on_table)
    return ExportReport(target, publication.number, entries, time.monotonic() - began)


def write_export(
    output: Path,
    publication: int,
    namespace: str,
    sources: Sequence[TableSource],
    on_table: Callable[[dict[str, Any], float], None] | None = None,
) -> list[dict[str, Any]]:
    """Write every table and the manifest into a staged directory, then put it in place of
    ``output``. Returns the tables' manifest entries."""
    with staged_directory(output) as staging:
        entries = []
        for source in sources:
            began = time.monotonic()
            entries.append(write_table(staging, source))
            if on_table is not None:
                on_table(entries[-1], time.monotonic() - began)
        manifest = build_manifest(publication, datetime.now(UTC), namespace, entries)
        with _local(staging / MANIFEST):
            _write_synced(staging / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return entries


def write_table(directory: Path, source: TableSource) -> dict[str, Any]:
    """Stream one table to ``parquet/<name>.parquet`` and ``csv/<name>.csv``; its manifest entry."""
    schema = export_schema(source.schema)
    parquet_file = directory / "parquet" / f"{source.name}.parquet"
    csv_file = directory / "csv" / f"{source.name}.csv"
    rows = 0
    with _local(directory):
        parquet_file.parent.mkdir(exist_ok=True)
        csv_file.parent.mkdir(exist_ok=True)
        parquet = pq.ParquetWriter(parquet_file, schema, compression=PARQUET_COMPRESSION)
        csv_sink = csv_file.open("wb")
        csv_sink.write(UTF8_BOM)
        csv = pcsv.CSVWriter(csv_sink, csv_batch(_empty_batch(schema)).schema)
    try:
        for group in row_groups((flatten_batch(batch, schema) for batch in source.batches()), schema):
            with _local(directory):
                parquet.write_table(group)  # one row group: the group has ROW_GROUP_ROWS at most
                for batch in group.to_batches():
                    csv.write_batch(csv_batch(batch))
            rows += group.num_rows
    finally:
        with _local(directory):
            parquet.close()
            csv.close()
            csv_sink.close()
    return {
        "name": source.name,
        "source": source.source,
        "snapshot_id": source.snapshot_id,
        "rows": rows,
        "columns": describe_schema(schema),
        "files": [_file_entry(directory, parquet_file, "parquet"), _file_entry(directory, csv_file, "csv")],
    }


def row_groups(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int = ROW_GROUP_ROWS
) -> Iterator[pa.Table]:
    """Re-cut a stream of batches into tables of exactly ``rows`` rows (the last: what is left), so
    row groups are the same whatever the batch sizes the reader produced."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pa.Table.from_batches(pending, schema)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending, schema)


def build_manifest(
    publication: int, exported_at: datetime, namespace: str, tables: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest: which publication, when, the CSV conventions and each table's entry."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "publication": publication,
        "exported_at": exported_at.astimezone(UTC).isoformat(timespec="seconds"),
        "namespace": namespace,
        "csv": CSV_CONVENTIONS,
        "tables": {table["name"]: table for table in sorted(tables, key=lambda table: table["name"])},
    }


@contextmanager
def staged_directory(output: Path) -> Iterator[Path]:
    """A new hidden directory beside ``output``, put in its place when the block ends normally.

    A lock file beside the output keeps two exports into the same place apart (the kernel frees
    it however a run ends), so whatever hidden directory a run finds is left by a dead one and is
    removed. ``output`` is replaced only if it is absent, empty or an export (has our manifest).
    """
    parent, name = output.parent, output.name
    with _local(output):
        parent.mkdir(parents=True, exist_ok=True)
        lock = (parent / f".{name}.lock").open("a")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"another export into {output} is running") from None
        _check_replaceable(output)
        for leftover in sorted(parent.glob(f".{name}.tmp-*")) + sorted(parent.glob(f".{name}.old-*")):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = parent / f".{name}.tmp-{secrets.token_hex(4)}"
        with _local(staging):
            staging.mkdir()  # not mkdtemp (0700): the export gets the umask's mode, like any file
        try:
            yield staging
            with _local(output):
                _swap_in(staging, output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # only still there when the block failed
    finally:
        lock.close()


def _swap_in(staging: Path, output: Path) -> None:
    """Rename ``staging`` to ``output``. A directory cannot be renamed over a non-empty one, so the
    previous export goes aside first: between the two renames a reader finds no export (never
    half of one), and a crash there leaves hidden directories the next run removes."""
    for directory in (*sorted(path for path in staging.iterdir() if path.is_dir()), staging):
        _fsync(directory)
    if output.exists():
        aside = output.parent / f".{output.name}.old-{secrets.token_hex(4)}"
        output.rename(aside)
        staging.rename(output)
        _fsync(output.parent)
        shutil.rmtree(aside)
    else:
        staging.rename(output)
        _fsync(output.parent)


def _check_replaceable(output: Path) -> None:
    if not output.exists() and not output.is_symlink():
        return
    if output.is_symlink() or not output.is_dir():
        kind = "a symbolic link" if output.is_symlink() else "a file"
        raise ExportError(f"{output} is in the way: {kind}, not a directory; choose another --output")
    if not any(output.iterdir()):
        return
    try:
        ours = json.loads((output / MANIFEST).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise ExportError(
            f"{output} is not an export (it has no {MANIFEST} of ours) and is not empty: an export "
            "replaces its whole directory, so choose another --output"
        )


@contextmanager
def _local(path: Path) -> Iterator[None]:
    """A local file error (disk full, permissions) as ExportError naming the path: without it, the
    OSError would read as a lost object store, whose errors are OSErrors too."""
    try:
        yield
    except ExportError:
        raise
    except OSError as error:
        raise ExportError(f"cannot write the export at {path}: {error}") from error


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.nulls(0, field.type) for field in schema], schema=schema)


def _file_entry(directory: Path, path: Path, file_format: str) -> dict[str, Any]:
    """The file's manifest entry (path in the export, bytes, SHA-256), once it is on disk."""
    digest = hashlib.sha256()
    with _local(path), path.open("rb") as file:
        os.fsync(file.fileno())
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return {
        "path": path.relative_to(directory).as_posix(),
        "format": file_format,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync(directory: Path) -> None:
    """Flush a directory's entries, so a rename survives a power loss, not only a kill."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
