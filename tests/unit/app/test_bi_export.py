"""BI exports without services: flat columns, CSV text, the manifest, the staged directory."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from app.bi_export import (
    FORMAT,
    MANIFEST,
    UTF8_BOM,
    TableSource,
    build_manifest,
    parse_table_list,
    row_groups,
    select_tables,
    staged_directory,
    write_export,
)
from app.bi_formats import csv_text, describe_schema, export_schema, flatten_batch, plain_decimals
from core.exceptions import ExportError

INSTANT = datetime(2025, 12, 31, 23, 0, 5, 123456, tzinfo=UTC)


def batch_of(**columns: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(columns)


def test_a_struct_becomes_one_column_per_field_and_its_nulls_reach_them() -> None:
    point = pa.struct([pa.field("lat", pa.float64()), pa.field("lon", pa.float64(), nullable=False)])
    site = pa.array(
        [{"id": "S1", "point": {"lat": 36.7, "lon": 3.1}}, None, {"id": "S3", "point": None}],
        pa.struct([pa.field("id", pa.string()), pa.field("point", point)]),
    )
    flat = flatten_batch(batch_of(site=site))
    assert flat.schema.names == ["site.id", "site.point.lat", "site.point.lon"]
    assert flat.column("site.id").to_pylist() == ["S1", None, "S3"]
    assert flat.column("site.point.lon").to_pylist() == [3.1, None, None]  # parent nulls carried
    assert flat.schema.field("site.point.lon").nullable  # its parents may be null


def test_lists_and_maps_become_json_text() -> None:
    tags = pa.array([["a", "é"], None, []], pa.list_(pa.string()))
    counts = pa.array([[("x", 1)], None, []], pa.map_(pa.string(), pa.int64()))
    by_day = pa.array([[(date(2025, 12, 31), 2)], None, None], pa.map_(pa.date32(), pa.int64()))
    flat = flatten_batch(batch_of(tags=tags, counts=counts, by_day=by_day))
    assert flat.schema.types == [pa.string()] * 3
    assert flat.column("tags").to_pylist() == ['["a","é"]', None, "[]"]
    assert flat.column("counts").to_pylist() == ['{"x":1}', None, "{}"]
    assert flat.column("by_day").to_pylist() == ['[["2025-12-31",2]]', None, None]


def test_scalar_types_become_what_bi_tools_read() -> None:
    nanos = pa.array([1_767_222_005_123_456_789], pa.timestamp("ns", tz="Africa/Algiers"))
    flat = flatten_batch(
        batch_of(
            nanos=nanos,
            seconds=pa.array([1], pa.timestamp("s")),
            text=pa.array(["a"], pa.large_string()),
            region=pa.array(["ALG"]).dictionary_encode(),
            raw=pa.array([b"\x00\xff"], pa.binary()),
            key=pa.array([uuid.UUID(int=1).bytes], pa.uuid()),
            clock=pa.array([1_000], pa.time32("ms")),
        )
    )
    assert dict(zip(flat.schema.names, flat.schema.types, strict=True)) == {
        "nanos": pa.timestamp("us", tz="UTC"),
        "seconds": pa.timestamp("us"),
        "text": pa.string(),
        "region": pa.string(),
        "raw": pa.string(),
        "key": pa.string(),
        "clock": pa.time64("us"),
    }
    assert flat.column("nanos")[0].value == 1_767_222_005_123_456  # truncated to microseconds
    assert flat.column("raw").to_pylist() == ["00ff"]
    assert flat.column("key").to_pylist() == ["00000000-0000-0000-0000-000000000001"]


def test_export_schema_is_what_flattening_gives_without_iceberg_field_ids() -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False, metadata={"PARQUET:field_id": "1"}),
            pa.field("loc", pa.struct([pa.field("lat", pa.float64())]), nullable=False),
        ]
    )
    flat = export_schema(schema)
    assert flat.names == ["id", "loc.lat"]
    assert [field.metadata for field in flat] == [None, None]
    assert describe_schema(flat) == [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "loc.lat", "type": "double", "nullable": True},
    ]


def test_two_columns_flattening_to_one_name_are_refused() -> None:
    with pytest.raises(ExportError, match=r"the same name twice: a\.b"):
        flatten_batch(batch_of(**{"a.b": pa.array([1]), "a": pa.array([{"b": 2}])}))


def test_timestamps_are_iso_8601_with_t_and_zoned_ones_in_utc_with_the_offset() -> None:
    algiers = timezone(timedelta(hours=1))
    zoned = pa.array([INSTANT, None], pa.timestamp("us", tz="UTC"))
    elsewhere = pa.array([INSTANT.astimezone(algiers)], pa.timestamp("us", tz="Africa/Algiers"))
    naive = pa.array([INSTANT.replace(tzinfo=None)], pa.timestamp("us"))
    assert csv_text(zoned).to_pylist() == ["2025-12-31T23:00:05.123456+00:00", None]
    assert csv_text(elsewhere).to_pylist() == ["2025-12-31T23:00:05.123456+00:00"]
    assert csv_text(naive).to_pylist() == ["2025-12-31T23:00:05.123456"]


def test_decimals_are_plain_digits_never_an_exponent() -> None:
    values = pa.array(
        [Decimal("0"), Decimal("0.0000001"), Decimal("-12.5"), Decimal("-0.00000002"), None],
        pa.decimal128(38, 10),
    )
    assert plain_decimals(values).to_pylist() == [
        "0.0000000000",
        "0.0000001000",
        "-12.5000000000",
        "-0.0000000200",
        None,
    ]
    other = pa.array([Decimal("12.50")], pa.decimal128(12, 2))
    assert csv_text(other).to_pylist() == ["12.50"] and csv_text(pa.array([1.5])).type == pa.float64()


SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("price", pa.decimal128(12, 4)),
        pa.field("label", pa.string()),
        pa.field("rate", pa.float64()),
        pa.field("day", pa.date32()),
        pa.field("ok", pa.bool_()),
    ]
)


def sample(rows: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "id": i,
                "at": INSTANT + timedelta(seconds=i),
                "price": Decimal(i) / 10_000,
                "label": ['Sétif, "centre"', "", None][i % 3],
                "rate": None if i % 5 == 0 else i / 7,
                "day": date(2025, 12, 31),
                "ok": i % 2 == 0,
            }
            for i in range(rows)
        ],
        schema=SCHEMA,
    )


def source(name: str, table: pa.Table, chunk: int = 1000) -> TableSource:
    return TableSource(name, f"analytics_candidate.{name}", 42, SCHEMA, lambda: iter(table.to_batches(chunk)))


def test_an_export_reads_back_the_same_in_parquet_csv_and_duckdb(tmp_path: Path) -> None:
    table = sample(2500)
    output = tmp_path / "exports" / "analytics"
    (entry,) = write_export(output, 7, "analytics", [source("kpi", table)])
    parquet = pq.read_table(output / "parquet" / "kpi.parquet")
    assert parquet.equals(table) and parquet.schema.field("id").nullable is False
    assert pq.ParquetFile(output / "parquet" / "kpi.parquet").metadata.row_group(0).column(0).compression == (
        "SNAPPY"
    )

    raw = (output / "csv" / "kpi.csv").read_bytes()
    assert raw.startswith(UTF8_BOM)
    header, first = raw[len(UTF8_BOM) :].decode("utf-8").splitlines()[:2]
    assert header == '"id","at","price","label","rate","day","ok"'
    assert first == '0,"2025-12-31T23:00:05.123456+00:00","0.0000","Sétif, ""centre""",,2025-12-31,true'
    options = pcsv.ConvertOptions(
        column_types=SCHEMA, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    assert pcsv.read_csv(output / "csv" / "kpi.csv", convert_options=options).cast(SCHEMA).equals(table)

    counted = duckdb.sql(f"SELECT count(*), count(label) FROM read_csv('{output}/csv/kpi.csv')").fetchall()[0]
    assert counted == (2500, 834)  # DuckDB reads an empty text ("") as null too, by default
    assert entry["rows"] == 2500 and entry["snapshot_id"] == 42
    assert [file["path"] for file in entry["files"]] == ["parquet/kpi.parquet", "csv/kpi.csv"]


def test_the_manifest_names_the_publication_and_each_file_with_its_size_and_hash(tmp_path: Path) -> None:
    output = tmp_path / "analytics"
    write_export(output, 7, "analytics", [source("b", sample(10)), source("a", sample(3))])
    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["format"] == FORMAT and manifest["publication"] == 7
    assert datetime.fromisoformat(manifest["exported_at"]).tzinfo is not None
    assert list(manifest["tables"]) == ["a", "b"]
    assert manifest["tables"]["a"]["columns"][1] == {
        "name": "at",
        "type": "timestamp[us, tz=UTC]",
        "nullable": True,
    }
    for table in manifest["tables"].values():
        for file in table["files"]:
            path = output / file["path"]
            assert path.stat().st_size == file["bytes"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == file["sha256"]


def test_build_manifest_is_plain_json_in_utc() -> None:
    at = datetime(2026, 1, 5, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    manifest = build_manifest(3, at, "analytics", [{"name": "z"}, {"name": "a"}])
    assert manifest["exported_at"] == "2026-01-05T10:00:00+00:00"
    assert list(manifest["tables"]) == ["a", "z"]
    assert json.loads(json.dumps(manifest)) == manifest


def test_the_same_data_gives_identical_files_whatever_the_batch_sizes(tmp_path: Path) -> None:
    table = sample(3000)
    first, second = tmp_path / "one", tmp_path / "two"
    write_export(first, 1, "analytics", [source("t", table, chunk=1000)])
    write_export(second, 1, "analytics", [source("t", table, chunk=77)])
    for name in ("parquet/t.parquet", "csv/t.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    manifests = [json.loads((d / MANIFEST).read_text()) for d in (first, second)]
    for manifest in manifests:
        manifest.pop("exported_at")
    assert manifests[0] == manifests[1]


def test_row_groups_are_cut_at_the_same_rows_whatever_the_batches() -> None:
    batches = sample(25).to_batches(max_chunksize=7)
    assert [group.num_rows for group in row_groups(batches, SCHEMA, rows=10)] == [10, 10, 5]
    assert list(row_groups([], SCHEMA, rows=10)) == []


def test_an_empty_table_has_a_header_and_a_parquet_file_with_its_schema(tmp_path: Path) -> None:
    (entry,) = write_export(tmp_path / "out", 1, "analytics", [source("empty", sample(0))])
    assert entry["rows"] == 0
    assert pq.read_table(tmp_path / "out" / "parquet" / "empty.parquet").schema == SCHEMA
    text = (tmp_path / "out" / "csv" / "empty.csv").read_bytes()[len(UTF8_BOM) :].decode()
    assert text == '"id","at","price","label","rate","day","ok"\n'


def test_an_unknown_table_is_refused_naming_the_allowed_ones() -> None:
    available = ["kpi_cell_hourly", "dim_date", "fct_voice_calls"]
    with pytest.raises(ExportError) as error:
        select_tables(available, ["dim_date", "dim_dates", "msisdn"])
    assert str(error.value) == (
        "unknown tables dim_dates, msisdn: the published analytics tables are "
        "dim_date, fct_voice_calls, kpi_cell_hourly"
    )
    with pytest.raises(ExportError, match=r"^unknown table raw\.cdr: "):
        select_tables(available, ["raw.cdr"])
    assert select_tables(available, None) == sorted(available)
    assert select_tables(available, ["kpi_cell_hourly", "dim_date", "dim_date"]) == [
        "dim_date",
        "kpi_cell_hourly",
    ]


def test_table_lists_are_comma_separated_or_repeated() -> None:
    assert parse_table_list(["a,b", " c ", ""]) == ["a", "b", "c"]
    assert parse_table_list(None) is None and parse_table_list([","]) is None


def failing(after: int) -> Iterator[pa.RecordBatch]:
    yield from sample(after).to_batches()
    raise RuntimeError("killed mid-table")


def test_a_failed_export_leaves_the_previous_one_whole_and_nothing_beside_it(tmp_path: Path) -> None:
    output = tmp_path / "analytics"
    write_export(output, 1, "analytics", [source("t", sample(10))])
    before = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
    broken = TableSource("t", "analytics_candidate.t", 43, SCHEMA, lambda: failing(5))
    with pytest.raises(RuntimeError, match="killed mid-table"):
        write_export(output, 2, "analytics", [source("u", sample(10)), broken])
    assert {path: path.read_bytes() for path in output.rglob("*") if path.is_file()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [".analytics.lock", "analytics"]


def test_leftovers_of_a_killed_export_are_removed_by_the_next(tmp_path: Path) -> None:
    output = tmp_path / "analytics"
    (tmp_path / ".analytics.tmp-dead").mkdir()
    (tmp_path / ".analytics.tmp-dead" / MANIFEST).write_text("{}")
    (tmp_path / ".analytics.old-dead").mkdir()
    write_export(output, 1, "analytics", [source("t", sample(3))])
    assert sorted(path.name for path in tmp_path.iterdir()) == [".analytics.lock", "analytics"]


def test_a_directory_that_is_not_an_export_is_never_replaced(tmp_path: Path) -> None:
    output = tmp_path / "Documents"
    output.mkdir()
    (output / "thesis.docx").write_text("years of work")
    with pytest.raises(ExportError, match="is not an export"):
        write_export(output, 1, "analytics", [source("t", sample(3))])
    assert (output / "thesis.docx").read_text() == "years of work"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="in the way: a file, not a directory"):
        write_export(tmp_path / "file", 1, "analytics", [source("t", sample(3))])
    (tmp_path / "link").symlink_to(output)
    with pytest.raises(ExportError, match="in the way: a symbolic link, not a directory"):
        write_export(tmp_path / "link", 1, "analytics", [source("t", sample(3))])
    empty = tmp_path / "empty"
    empty.mkdir()
    write_export(empty, 1, "analytics", [source("t", sample(3))])
    assert (empty / MANIFEST).exists()


def test_two_exports_into_one_place_at_once_are_refused(tmp_path: Path) -> None:
    output = tmp_path / "analytics"
    with staged_directory(output), pytest.raises(ExportError, match=r"another export into .* is running"):
        write_export(output, 1, "analytics", [source("t", sample(3))])


def test_a_local_file_error_names_the_export_not_the_object_store(tmp_path: Path) -> None:
    """OSErrors would read as a lost object store (the CLI's service-loss report): not these."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match=r"cannot write the export at .*file/analytics"):
        write_export(tmp_path / "file" / "analytics", 1, "analytics", [source("t", sample(3))])
