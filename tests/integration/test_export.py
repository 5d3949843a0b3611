"""`lakehouse export` on the real stack: the published analytics tables as Parquet and CSV files.

One small batch through the pipeline, in namespaces of this module's own; then the real CLI
exports it and the files are read back with pyarrow and DuckDB against what Trino's published
views return.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from app.bi_export import MANIFEST, UTF8_BOM
from app.publication import latest_publication
from core import clients
from core.settings import LakehouseSettings, NamespaceSettings
from tests.integration.conftest import LAKEHOUSE, run_cli
from tests.integration.test_pipeline import _restore_dbt_settings  # noqa: F401 - autouse here too

pytestmark = pytest.mark.integration

GENERATE = ["generate", "--days", "1", "--subscribers", "2000", "--seed", "8", "--rows", "20000"]
# How each Trino type of the published views is written (app.bi_formats).
TRINO_TO_ARROW = {
    "bigint": "int64",
    "integer": "int32",
    "smallint": "int16",
    "tinyint": "int8",
    "double": "double",
    "real": "float",
    "boolean": "bool",
    "varchar": "string",
    "date": "date32[day]",
    "time(6)": "time64[us]",
    "timestamp(6)": "timestamp[us]",
    "timestamp(6) with time zone": "timestamp[us, tz=UTC]",
}
ARROW_TO_DUCKDB = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "int16": "SMALLINT",
    "int8": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "date32[day]": "DATE",
    "time64[us]": "TIME",
    "timestamp[us]": "TIMESTAMP",
    "timestamp[us, tz=UTC]": "TIMESTAMP WITH TIME ZONE",
}


def arrow_type_of(trino_type: str) -> str:
    if trino_type.startswith("decimal("):
        return f"decimal128{trino_type.removeprefix('decimal')}".replace(",", ", ")
    return TRINO_TO_ARROW[trino_type]


def duckdb_type_of(arrow_type: str) -> str:
    if arrow_type.startswith("decimal128("):
        return "DECIMAL" + arrow_type.removeprefix("decimal128").replace(" ", "")
    return ARROW_TO_DUCKDB[arrow_type]


@pytest.fixture(scope="module")
def export_settings(settings: LakehouseSettings) -> LakehouseSettings:
    """The session stack with every layer in namespaces of this module's own."""
    layers = NamespaceSettings().model_dump()
    namespaces = NamespaceSettings(**{layer: f"bx_{name}" for layer, name in layers.items()})
    return settings.model_copy(update={"namespaces": namespaces})


@pytest.fixture(scope="module")
def published(export_settings: LakehouseSettings) -> LakehouseSettings:
    run_cli(export_settings, *GENERATE)
    assert "pipeline succeeded" in run_cli(export_settings, "pipeline").stdout
    return export_settings


@pytest.fixture(scope="module")
def exported(published: LakehouseSettings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("bi") / "analytics"
    run = run_cli(published, "export", "--output", str(output))
    print(run.stdout)  # the per-table sizes and the rows/s, for whoever runs with -s
    assert f"to {output}" in run.stdout
    return output, json.loads((output / MANIFEST).read_text())


def trino(settings: LakehouseSettings, sql: str) -> list[list[Any]]:
    return clients.trino_query(settings, sql)


def test_nothing_published_is_a_clear_error(export_settings: LakehouseSettings, tmp_path: Path) -> None:
    never = export_settings.namespaces.model_copy(update={"quality": "bx_never_published"})
    result = run_cli(
        export_settings.model_copy(update={"namespaces": never}),
        "export",
        "--output",
        str(tmp_path / "out"),
        check=False,
    )
    assert result.returncode == 13, result.stderr
    assert "nothing has been published yet" in result.stderr and "make pipeline" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists() and not any(tmp_path.iterdir())


def test_an_unknown_table_is_refused_naming_the_published_ones(published: LakehouseSettings) -> None:
    result = run_cli(published, "export", "--tables", "dim_date,subscribers", check=False)
    assert result.returncode == 13, result.stderr
    assert "unknown table subscribers: the published analytics tables are " in result.stderr
    message = " ".join(result.stderr.split())  # as one line, however the console wrapped it
    named = message.split("the published analytics tables are ")[1].split(", ")
    assert named == sorted(named) and {"dim_date", "kpi_cell_hourly"} <= set(named), named
    assert "subscribers" not in named and "Traceback" not in result.stderr


def test_every_published_table_is_exported_as_trino_reads_its_view(
    published: LakehouseSettings, exported: tuple[Path, dict]
) -> None:
    output, manifest = exported
    ns = published.namespaces
    publication = latest_publication(published, clients.iceberg_catalog(published))
    assert publication is not None and manifest["publication"] == publication.number
    views = {name for (name,) in trino(published, f"SHOW TABLES FROM {ns.analytics}")}
    assert set(manifest["tables"]) == views and len(views) >= 10
    for name, table in manifest["tables"].items():
        assert table["snapshot_id"] == publication.snapshots[f"{ns.analytics_candidate}.{name}"]
        columns = trino(
            published,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{ns.analytics}' AND table_name = '{name}' ORDER BY ordinal_position",
        )
        expected = [(column, arrow_type_of(data_type)) for column, data_type in columns]
        assert [(c["name"], c["type"]) for c in table["columns"]] == expected, name

        parquet_file, csv_file = (output / file["path"] for file in table["files"])
        for file in table["files"]:
            data = (output / file["path"]).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (file["bytes"], file["sha256"])
        parquet = pq.read_table(parquet_file)
        assert [(f.name, str(f.type)) for f in parquet.schema] == expected, name

        # The same rows as the published view, value for value.
        rows = trino(published, f"SELECT * FROM {ns.analytics}.{name}")
        assert table["rows"] == parquet.num_rows == len(rows), name
        exported_rows = Counter(tuple(row.values()) for row in parquet.to_pylist())
        assert exported_rows == Counter(map(tuple, rows)), name

        # The CSV: a BOM, a header, and values that parse back to the Parquet table.
        assert csv_file.read_bytes().startswith(UTF8_BOM + f'"{expected[0][0]}",'.encode())
        options = pcsv.ConvertOptions(
            column_types=parquet.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        assert pcsv.read_csv(csv_file, convert_options=options).cast(parquet.schema).equals(parquet), name

        # DuckDB, as any other tool would: the same names, types and counts from both files.
        described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{parquet_file}')").fetchall()
        assert [(row[0], row[1]) for row in described] == [(c, duckdb_type_of(t)) for c, t in expected]
        ((count,),) = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet_file}')").fetchall()
        ((csv_count,),) = duckdb.sql(f"SELECT count(*) FROM read_csv('{csv_file}', header = true)").fetchall()
        header = [
            row[0]
            for row in duckdb.sql(f"DESCRIBE SELECT * FROM read_csv('{csv_file}', header = true)").fetchall()
        ]
        assert count == csv_count == len(rows) and header == [c for c, _ in expected], name


def test_an_export_reads_the_publication_not_what_the_pipeline_builds_meanwhile(
    published: LakehouseSettings, tmp_path: Path
) -> None:
    """A candidate that moved on (a pipeline run mid-build) is not what is exported."""
    ns = published.namespaces
    candidate = f"{ns.analytics_candidate}.dim_tariff_plan"
    ((published_rows,),) = trino(published, f"SELECT count(*) FROM {ns.analytics}.dim_tariff_plan")
    trino(published, f"INSERT INTO {candidate} SELECT * FROM {candidate}")
    ((building,),) = trino(published, f"SELECT count(*) FROM {candidate}")
    assert building == 2 * published_rows > 0
    run_cli(published, "export", "--tables", "dim_tariff_plan", "--output", str(tmp_path / "out"))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert list(manifest["tables"]) == ["dim_tariff_plan"]
    assert manifest["tables"]["dim_tariff_plan"]["rows"] == published_rows
    assert (
        pq.read_metadata(tmp_path / "out" / "parquet" / "dim_tariff_plan.parquet").num_rows == published_rows
    )


def test_a_second_export_of_the_same_publication_gives_identical_files(
    published: LakehouseSettings, exported: tuple[Path, dict]
) -> None:
    output, first = exported
    run_cli(published, "export", "--output", str(output))
    second = json.loads((output / MANIFEST).read_text())
    assert {k: v for k, v in second.items() if k != "exported_at"} == {
        k: v for k, v in first.items() if k != "exported_at"
    }
    for table in first["tables"].values():
        for file in table["files"]:
            assert hashlib.sha256((output / file["path"]).read_bytes()).hexdigest() == file["sha256"]
    assert sorted(p.name for p in output.parent.iterdir()) == [f".{output.name}.lock", output.name]


def kill_mid_export(settings: LakehouseSettings, output: Path) -> None:
    """Start an export into ``output`` and SIGKILL it once it has written a file of its own."""
    export = subprocess.Popen(
        [LAKEHOUSE, "export", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **settings.to_env()},
    )
    try:
        deadline = time.monotonic() + 300
        while not any(output.parent.glob(f".{output.name}.tmp-*/*/*")):
            assert export.poll() is None, f"the export ended before writing: {export.stderr.read()!r}"
            assert time.monotonic() < deadline, "the export never wrote a file"
            time.sleep(0.02)  # polling a condition, not waiting for one
    finally:
        export.send_signal(signal.SIGKILL)
        export.communicate()
    assert export.returncode == -signal.SIGKILL


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_an_export_killed_mid_write_leaves_no_complete_looking_output(
    published: LakehouseSettings, exported: tuple[Path, dict], tmp_path: Path
) -> None:
    fresh = tmp_path / "analytics"
    kill_mid_export(published, fresh)
    assert not fresh.exists()  # only a hidden staging directory, with no manifest
    (staging,) = tmp_path.glob(".analytics.tmp-*")
    assert not (staging / MANIFEST).exists()

    output, _ = exported
    before = files_of(output)
    kill_mid_export(published, output)
    assert files_of(output) == before  # the previous export, whole

    for place in (fresh, output):
        run_cli(published, "export", "--output", str(place))
        assert sorted(p.name for p in place.parent.iterdir()) == [f".{place.name}.lock", place.name]
        manifest = json.loads((place / MANIFEST).read_text())
        assert {f["path"] for t in manifest["tables"].values() for f in t["files"]} | {MANIFEST} == set(
            files_of(place)
        )
