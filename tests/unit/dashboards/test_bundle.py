"""The Superset dashboards bundle (dashboards/bundle/) holds together, without Superset.

Every file parses and is in the canonical form an export writes; uuids are unique and every link
(dataset -> database, chart -> dataset, dashboard -> chart, native filter -> dataset) resolves;
every chart carries a query_context that asks what its params say, of columns and metrics its
dataset has; every dashboard has native filters scoped to the charts they can filter; every
dataset reads analytics models, the forecast step's tables (core.contracts.forecast_tables) or
the stream's tables. The import/export script's own logic that needs no Superset (localising the
connection, normalising an export) is checked here too.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.contracts.forecast_tables import FORECAST_SCHEMAS
from core.contracts.stream_tables import StreamTables
from core.settings import NamespaceSettings

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "dashboards"
BUNDLE = DASHBOARDS / "bundle"
MODELS = ROOT / "dbt_project" / "models" / "analytics"


def _module(name: str) -> Any:
    """A module of dashboards/ (not a package: Superset's own interpreter runs it as a script)."""
    if str(DASHBOARDS) not in sys.path:
        sys.path.insert(0, str(DASHBOARDS))
    return importlib.import_module(name)


assets_bundle = _module("assets_bundle")
bundle_export = _module("bundle_export")
superset_assets = _module("superset_assets")

CONTENTS: dict[str, str] = assets_bundle.read_bundle(BUNDLE)
CONFIGS, PARSE_PROBLEMS = assets_bundle.load_bundle(CONTENTS)


def _of(kind: str) -> dict[str, dict[str, Any]]:
    return {path: config for path, config in CONFIGS.items() if assets_bundle.kind_of(path) == kind}


DATABASES, DATASETS, CHARTS, DASHBOARD_FILES = (_of(k) for k in assets_bundle.KINDS)
DATASET_BY_UUID = {str(c["uuid"]): c for c in DATASETS.values()}
CHART_BY_UUID = {str(c["uuid"]): c for c in CHARTS.values()}
ANALYTICS_MODELS = {path.stem for path in MODELS.rglob("*.sql")}
# Written beside the dbt models by the pipeline's forecast step, gated and published with them.
FORECAST_TABLES = {name: set(schema.names) for name, schema in FORECAST_SCHEMAS.items()}
STREAM_TABLES = {
    name.split(".", 1)[1]
    for name in (
        StreamTables.of(NamespaceSettings()).cell_windows,
        StreamTables.of(NamespaceSettings()).alerts,
    )
}


def _columns(dataset: dict[str, Any]) -> set[str]:
    return {c["column_name"] for c in dataset["columns"]}


def _metrics(dataset: dict[str, Any]) -> set[str]:
    return {m["metric_name"] for m in dataset["metrics"]}


def test_the_bundle_has_five_dashboards_and_one_database() -> None:
    assert len(DASHBOARD_FILES) >= 5
    assert list(DATABASES) == ["databases/lakehouse_trino.yaml"]
    assert CONFIGS["metadata.yaml"] == {"type": "assets", "version": "1.0.0"}


def test_every_file_parses_and_every_link_resolves() -> None:
    assert PARSE_PROBLEMS == []
    assert assets_bundle.check_bundle(CONFIGS) == []


def test_uuids_are_unique() -> None:
    uuids = [str(c["uuid"]) for path, c in CONFIGS.items() if path != "metadata.yaml"]
    assert len(uuids) == len(set(uuids))


@pytest.mark.parametrize("path", sorted(CONTENTS))
def test_every_file_is_in_the_canonical_form_an_export_writes(path: str) -> None:
    data = yaml.safe_load(CONTENTS[path])
    assert CONTENTS[path] == assets_bundle.dump_yaml(data), "not as `superset_assets.py export` writes it"
    if path.startswith("charts/"):
        assert data["query_context"] == assets_bundle.canonical_json(data["query_context"])


def test_the_database_is_the_analyst_on_the_read_only_catalog_without_secrets() -> None:
    database = DATABASES["databases/lakehouse_trino.yaml"]
    user, password, catalog = assets_bundle.uri_parts(database["sqlalchemy_uri"])
    assert (user, password, catalog) == ("analyst", None, "iceberg_readonly")
    args = database["extra"]["engine_params"]["connect_args"]
    assert args == {"http_scheme": "https", "verify": True}  # the CA file is the installation's
    assert not database.get("allow_dml") and not database.get("allow_csv_upload")
    assert "password" not in database


@pytest.mark.parametrize("path", sorted(DATASETS))
def test_every_dataset_reads_analytics_models_forecast_tables_or_stream_tables(path: str) -> None:
    dataset = DATASETS[path]
    assert (dataset["catalog"], dataset["schema"]) == ("iceberg_readonly", "analytics")
    known = ANALYTICS_MODELS | set(FORECAST_TABLES) | STREAM_TABLES
    if not dataset.get("sql"):
        name = dataset["table_name"]
        physical = [c["column_name"] for c in dataset["columns"] if not c.get("expression")]
        if name in FORECAST_TABLES:
            missing = sorted(set(physical) - FORECAST_TABLES[name])
            assert not missing, f"columns FORECAST_SCHEMAS[{name!r}] does not have: {missing}"
            return
        assert name in ANALYTICS_MODELS, f"{name} is no analytics model or forecast table"
        model_sql = next(MODELS.rglob(f"{name}.sql")).read_text()
        missing = [c for c in physical if not re.search(rf"\b{c}\b", model_sql)]
        assert not missing, f"columns the model does not make: {missing}"
        return
    sql = re.sub(r"--[^\n]*", "", dataset["sql"])
    ctes = set(re.findall(r"\b(\w+)\s+as\s*\(", sql, flags=re.IGNORECASE))
    tables = set(re.findall(r"\b(?:from|join)\s+([a-z_][\w.]*)", sql, flags=re.IGNORECASE)) - ctes
    assert tables, "a virtual dataset reads some table"
    assert tables <= known, f"not analytics models, forecast or stream tables: {sorted(tables - known)}"
    assert dataset["table_name"] not in known, "a virtual dataset must not shadow a table's name"


def _params_metrics(params: dict[str, Any]) -> list[Any]:
    viz = params["viz_type"]
    if viz in {"big_number_total", "pie", "heatmap_v2"}:
        return [params["metric"]]
    if viz == "bubble_v2":
        return [params["x"], params["y"], params["size"]]
    if viz == "table" and params.get("query_mode") == "raw":
        return []
    return list(params["metrics"])


def _params_columns(params: dict[str, Any]) -> list[str]:
    viz = params["viz_type"]
    if viz == "bubble_v2":
        return [params["entity"], params["series"]]
    if viz == "heatmap_v2":
        return [params["x_axis"], params["groupby"]]
    if viz == "table" and params.get("query_mode") == "raw":
        return list(params["all_columns"])
    axis = [params["x_axis"]] if params.get("x_axis") else []
    return axis + list(params.get("groupby") or [])


def _label(column: Any) -> str:
    return column if isinstance(column, str) else column["label"]


@pytest.mark.parametrize("path", sorted(CHARTS))
def test_every_chart_has_a_query_context_that_asks_what_its_params_say(path: str) -> None:
    chart = CHARTS[path]
    params = chart["params"]
    dataset = DATASET_BY_UUID[str(chart["dataset_uuid"])]
    context = json.loads(chart["query_context"])
    assert params["viz_type"] == chart["viz_type"]
    assert context["form_data"] == params
    assert "datasource" not in context and "datasource" not in params  # filled in by the import
    assert not set(assets_bundle.VOLATILE_PARAMS) & set(params)
    (query,) = context["queries"]
    assert query["metrics"] == _params_metrics(params)
    assert [_label(c) for c in query["columns"]] == _params_columns(params)
    for metric in query["metrics"]:
        assert isinstance(metric, str) and metric in _metrics(dataset), (
            f"{metric} is no metric of the dataset"
        )
    for column in query["columns"]:
        name = column if isinstance(column, str) else column["sqlExpression"]
        assert name in _columns(dataset), f"{name} is no column of {dataset['table_name']}"
    sort_by = {params.get("series_limit_metric"), params.get("timeseries_limit_metric")} - {None}
    for term, _ in query["orderby"]:
        assert term in [*query["metrics"], *sort_by, *(_label(c) for c in query["columns"])]
    assert sort_by <= _metrics(dataset)
    filters = [f for f in params.get("adhoc_filters", []) if f["expressionType"] == "SIMPLE"]
    assert query["filters"] == [
        {"col": f["subject"], "op": f["operator"], "val": f["comparator"]} for f in filters
    ]
    for f in filters:
        assert f["subject"] in _columns(dataset)
    temporal = [f["subject"] for f in filters if f["operator"] == "TEMPORAL_RANGE"]
    dttm = {c["column_name"] for c in dataset["columns"] if c["is_dttm"]}
    assert set(temporal) <= dttm, "the date range filter applies to a temporal column"


def _dashboard_charts(dashboard: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Bundle chart id -> chart config, for the charts a dashboard's position holds."""
    refs = assets_bundle.chart_refs(dashboard["position"])
    return {meta["chartId"]: CHART_BY_UUID[str(meta["uuid"])] for _, meta in refs}


def _can_filter(chart: dict[str, Any], native: dict[str, Any]) -> bool:
    dataset = DATASET_BY_UUID[str(chart["dataset_uuid"])]
    if native["filterType"] == "filter_time":
        filters = chart["params"].get("adhoc_filters", [])
        return any(f.get("operator") == "TEMPORAL_RANGE" for f in filters)
    return native["targets"][0]["column"]["name"] in _columns(dataset)


@pytest.mark.parametrize("path", sorted(DASHBOARD_FILES))
def test_every_dashboard_has_native_filters_scoped_to_the_charts_they_filter(path: str) -> None:
    dashboard = DASHBOARD_FILES[path]
    charts = _dashboard_charts(dashboard)
    assert charts, "a dashboard shows charts"
    natives = dashboard["metadata"]["native_filter_configuration"]
    kinds = {(n["filterType"], (n["targets"][0].get("column") or {}).get("name")) for n in natives}
    assert ("filter_time", None) in kinds and ("filter_select", "region_code") in kinds
    for native in natives:
        assert native["scope"]["rootPath"] == ["ROOT_ID"]
        for target in native["targets"]:
            if target:
                assert target["column"]["name"] in _columns(DATASET_BY_UUID[target["datasetUuid"]])
        in_scope, excluded = set(native["chartsInScope"]), set(native["scope"]["excluded"])
        assert in_scope == {cid for cid, chart in charts.items() if _can_filter(chart, native)}, native[
            "name"
        ]
        assert excluded == set(charts) - in_scope, native["name"]
        for parent in native["cascadeParentIds"]:
            assert parent in {n["id"] for n in natives}
    assert set(dashboard["metadata"]["global_chart_configuration"]["chartsInScope"]) == set(charts)


def test_chart_ids_agree_across_dashboards() -> None:
    ids: dict[str, int] = {}
    for dashboard in DASHBOARD_FILES.values():
        for _, meta in assets_bundle.chart_refs(dashboard["position"]):
            assert ids.setdefault(str(meta["uuid"]), meta["chartId"]) == meta["chartId"]
    assert len(set(ids.values())) == len(ids)


# --- what superset_assets.py does without Superset ---------------------------------------------


def test_localise_puts_the_installation_connection_in_and_no_password_in_the_files() -> None:
    settings = {
        "uri": "trino://analyst@trino.example:9443/iceberg_readonly",
        "password": "pa:ss/word@1",
        "ca_file": "/srv/lakehouse/ca.pem",
        "schema": "analytics_v2",
    }
    contents, passwords = superset_assets.localise(copy.deepcopy(CONFIGS), settings, set())
    database = yaml.safe_load(contents["databases/lakehouse_trino.yaml"])
    assert database["sqlalchemy_uri"] == "trino://analyst:XXXXXXXXXX@trino.example:9443/iceberg_readonly"
    assert database["extra"]["engine_params"]["connect_args"]["verify"] == "/srv/lakehouse/ca.pem"
    assert passwords == {"databases/lakehouse_trino.yaml": "pa:ss/word@1"}
    assert not any("pa:ss/word@1" in text for text in contents.values())
    for path in DATASETS:
        dataset = yaml.safe_load(contents[path])
        assert (dataset["catalog"], dataset["schema"]) == ("iceberg_readonly", "analytics_v2")


def test_localise_without_a_password_keeps_a_stored_one_or_none() -> None:
    none = {"uri": None, "password": None, "ca_file": None, "schema": "analytics"}
    contents, passwords = superset_assets.localise(copy.deepcopy(CONFIGS), none, set())
    assert passwords == {}
    uri = yaml.safe_load(contents["databases/lakehouse_trino.yaml"])["sqlalchemy_uri"]
    assert uri == "trino://analyst@127.0.0.1:8443/iceberg_readonly"
    stored = {str(DATABASES["databases/lakehouse_trino.yaml"]["uuid"])}
    contents, _ = superset_assets.localise(copy.deepcopy(CONFIGS), none, stored)
    uri = yaml.safe_load(contents["databases/lakehouse_trino.yaml"])["sqlalchemy_uri"]
    assert uri == "trino://analyst:XXXXXXXXXX@127.0.0.1:8443/iceberg_readonly"  # Superset keeps its own


def _as_an_installation_exports(configs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The bundle as Superset would export it from some installation: other ids, file names, URI."""
    out = {
        "metadata.yaml": yaml.safe_dump(
            {"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00"}
        )
    }
    offset = 1000
    for n, (path, config) in enumerate(sorted(copy.deepcopy(configs).items())):
        kind = assets_bundle.kind_of(path)
        if kind == "databases":
            config["sqlalchemy_uri"] = "trino://analyst:XXXXXXXXXX@10.0.0.7:18443/iceberg_readonly"
            config["extra"]["engine_params"]["connect_args"]["verify"] = "/var/lib/superset/ca.pem"
        elif kind == "datasets":
            config["schema"] = "analytics_v2"
            config["columns"].reverse()
        elif kind == "charts":
            config["params"].update(datasource=f"{n}__table", slice_id=n, dashboards=[1])
            context = json.loads(config["query_context"])
            context["datasource"] = {"id": n, "type": "table"}
            context["form_data"].update(datasource=f"{n}__table", slice_id=n)
            config["query_context"] = json.dumps(context)
        elif kind == "dashboards":
            for _, meta in assets_bundle.chart_refs(config["position"]):
                meta["chartId"] += offset
            metadata = config["metadata"]
            for native in metadata["native_filter_configuration"]:
                native["chartsInScope"] = [i + offset for i in native["chartsInScope"]]
                native["scope"]["excluded"] = [i + offset for i in native["scope"]["excluded"]]
            global_scope = metadata["global_chart_configuration"]
            global_scope["chartsInScope"] = [i + offset for i in global_scope["chartsInScope"]]
            metadata["shared_label_colors"] = ["ALG"]  # derived when a dashboard opens
        if kind:
            out[f"{kind}/exported_{n}.yaml"] = yaml.safe_dump(config)
    return out


def test_an_export_of_an_unchanged_installation_is_the_bundle_itself() -> None:
    files = bundle_export.normalise_export(_as_an_installation_exports(CONFIGS), CONFIGS)
    assert files == CONTENTS


def test_an_export_names_new_objects_after_them_and_drops_deleted_ones() -> None:
    previous = {path: c for path, c in CONFIGS.items() if path != "charts/asr.yaml"}
    current = {path: c for path, c in CONFIGS.items() if path != "charts/acd.yaml"}
    files = bundle_export.normalise_export(_as_an_installation_exports(current), previous)
    assert "charts/asr.yaml" in files and "charts/acd.yaml" not in files
    assert set(files) == set(CONTENTS) - {"charts/acd.yaml"}
    # Superset leaves a deleted chart in its dashboard's layout: the export drops it there too.
    exported, problems = assets_bundle.load_bundle(files)
    assert problems == [] and assets_bundle.check_bundle(exported) == []
    acd = str(CONFIGS["charts/acd.yaml"]["uuid"])
    assert acd not in files["dashboards/network_operations.yaml"]


def test_remapping_charts_in_scope_maps_every_list_and_drops_unknown_ids() -> None:
    metadata = {
        "native_filter_configuration": [{"chartsInScope": [1, 2, 99], "scope": {"excluded": [3]}}],
        "global_chart_configuration": {"chartsInScope": [1, 2, 3], "scope": {"excluded": []}},
        "chart_configuration": {"1": {"id": 1, "crossFilters": {"chartsInScope": [2, 3], "scope": "global"}}},
    }
    bundle_export.remap_charts_in_scope(metadata, {1: 11, 2: 12, 3: 13})
    assert metadata["native_filter_configuration"][0]["chartsInScope"] == [11, 12]
    assert metadata["native_filter_configuration"][0]["scope"]["excluded"] == [3]  # Superset maps these
    assert metadata["global_chart_configuration"]["chartsInScope"] == [11, 12, 13]
    assert metadata["chart_configuration"]["1"]["crossFilters"]["chartsInScope"] == [12, 13]


# --- a broken bundle is refused, one line per problem naming its file ----------------------------


def _broken(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    for path, text in CONTENTS.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "charts/acd.yaml").write_text("slice_name: [unclosed\n")
    dataset = root / "datasets/lakehouse_trino/kpi_region_daily.yaml"
    dataset.write_text(re.sub(r"(?m)^table_name: .*\n", "", dataset.read_text()))
    chart = root / "charts/asr.yaml"
    chart.write_text(
        re.sub(
            r"(?m)^dataset_uuid: .*$", "dataset_uuid: 00000000-0000-4000-8000-000000000000", chart.read_text()
        )
    )
    return root


def test_a_broken_bundle_is_refused_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _broken(tmp_path)
    assert superset_assets.main(["import", str(root)]) == 3  # refused before Superset is started
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == f"superset_assets: import refused: {len(lines) - 1} problem(s) in {root}"
    problems = lines[:-1]
    assert f"{root}/charts/acd.yaml: not valid YAML" in problems[0]
    assert f"{root}/datasets/lakehouse_trino/kpi_region_daily.yaml: missing field 'table_name'" in problems
    assert any(p.startswith(f"{root}/charts/asr.yaml: dataset_uuid 00000000-") for p in problems)
    assert all(p.startswith(f"{root}/") for p in problems)
    assert "Traceback" not in "\n".join(lines)


def test_wrong_arguments_and_a_password_in_the_uri_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert superset_assets.main(["frobnicate", str(BUNDLE)]) == 2
    assert superset_assets.main([]) == 2
    monkeypatch.setenv("DASHBOARDS_TRINO_URI", "trino://analyst:hunter2@127.0.0.1:8443/iceberg_readonly")
    assert superset_assets.main(["import", str(BUNDLE)]) == 2
    assert "hunter2" not in capsys.readouterr().err
