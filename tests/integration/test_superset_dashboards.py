"""The dashboards as a user gets them: imported by `up`, filled with data, rendered in a browser.

The dashboards read the published marts of the default namespaces, which test_pipeline's checks
expect to hold its own batches only: so this module reads what the session published before it
(it sorts after test_pipeline and the stream tests, whose real-time windows and alerts it then
shows too), and lands a data set of its own (four days over New Year's Eve) only when run alone.
It asks Superset for every chart of the bundle through its chart data API and opens every
dashboard in headless Chromium. Screenshots go to LAKEHOUSE_SCREENSHOTS_DIR when set (the
README's come from there), else to a temporary directory.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml

from app.publication import latest_publication
from core import clients
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from infra.services.superset import BUNDLE_DIR
from infra.superset_api import SupersetClient
from infra.superset_page import SupersetPage
from ingestion.streaming.tables import ensure_realtime_tables
from tests.integration.conftest import run_cli
from tests.integration.test_pipeline import _restore_dbt_settings  # noqa: F401 - autouse here too

pytestmark = pytest.mark.integration

GENERATE = ["generate", "--subscribers", "2000", "--seed", "14"]
# Datasets over the tables only the stream fills may rightly be empty (no stream ran, no alert).
MAY_BE_EMPTY_PREFIX = "realtime_"
# The backtest needs 4 days of history: after a run on fewer whole days it is rightly empty.
MAY_BE_EMPTY_TABLES = {"forecast_accuracy"}


def _bundle(kind: str) -> dict[str, dict[str, Any]]:
    """The bundle's objects of one kind (charts, datasets, dashboards, databases), by uuid."""
    return {
        config["uuid"]: {**config, "_file": path.name}
        for path in sorted((BUNDLE_DIR / kind).rglob("*.yaml"))
        for config in [yaml.safe_load(path.read_text())]
    }


def _may_be_empty(chart: dict[str, Any]) -> bool:
    table = str(_bundle("datasets")[chart["dataset_uuid"]]["table_name"])
    return table.startswith(MAY_BE_EMPTY_PREFIX) or table in MAY_BE_EMPTY_TABLES


@pytest.fixture(scope="module")
def published(settings: LakehouseSettings) -> None:
    # What `lakehouse up` does after the launcher (the test stack's is started by the launcher).
    catalog = clients.iceberg_catalog(settings)
    ensure_realtime_tables(catalog, StreamTables.of(settings.namespaces))
    if latest_publication(settings, catalog) is None:  # run alone: nothing published yet
        run_cli(settings, *GENERATE)
        assert "pipeline succeeded" in run_cli(settings, "pipeline").stdout


@pytest.fixture(scope="module")
def api(settings: LakehouseSettings, published: None) -> SupersetClient:
    return SupersetClient(settings.superset)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("LAKEHOUSE_SCREENSHOTS_DIR")
    target = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _objects(api: SupersetClient) -> dict[str, list[tuple[int, str]]]:
    """(id, uuid) of every dashboard, chart, dataset and database Superset holds."""
    found = {}
    for kind, path in (
        ("dashboards", "/api/v1/dashboard/"),
        ("charts", "/api/v1/chart/"),
        ("datasets", "/api/v1/dataset/"),
        ("databases", "/api/v1/database/"),
    ):
        rows = api.get(path, q="(columns:!(id,uuid),page_size:100)")["result"]
        found[kind] = sorted((row["id"], str(row["uuid"])) for row in rows)
    return found


def test_up_imported_every_dashboard_of_the_bundle_with_its_charts(api: SupersetClient) -> None:
    bundled = _bundle("dashboards")
    present = {str(d["uuid"]): d for d in api.dashboards()}
    assert set(bundled) <= set(present), f"missing: {set(bundled) - set(present)}"
    for key, config in bundled.items():
        charts = {str(c["id"]) for c in api.dashboard_charts(present[key]["id"])}
        positioned = [
            v for v in config["position"].values() if isinstance(v, dict) and v.get("type") == "CHART"
        ]
        assert len(charts) == len(positioned) > 0, config["_file"]
        assert config["metadata"]["native_filter_configuration"], f"{config['_file']}: no native filter"


def test_every_chart_returns_data_through_superset(api: SupersetClient) -> None:
    bundled = _bundle("charts")
    uuids = {
        c["id"]: str(c["uuid"])
        for c in api.get("/api/v1/chart/", q="(columns:!(id,uuid),page_size:100)")["result"]
    }
    failures, empty = [], []
    for key, chart in bundled.items():
        chart_id = next(i for i, u in uuids.items() if u == key)
        result = api.chart_data(chart_id, chart["slice_name"], force=True)
        if result.error:
            failures.append(f"{chart['_file']}: {result.error}")
        elif not result.rows and not _may_be_empty(chart):
            empty.append(chart["_file"])
    assert not failures, failures
    assert not empty, f"charts with no rows: {empty}"


def test_big_numbers_equal_their_metric_computed_on_trino(
    api: SupersetClient, settings: LakehouseSettings
) -> None:
    """Every big-number chart (no time filter applied by default) against the same aggregate
    run directly on Trino as the analyst, from the dataset's own metric definition."""
    datasets = _bundle("datasets")
    t = settings.trino
    analyst = {"user": t.analyst_user, "password": t.analyst_password, "catalog": t.readonly_catalog}
    uuids = {
        str(c["uuid"]): c["id"]
        for c in api.get("/api/v1/chart/", q="(columns:!(id,uuid),page_size:100)")["result"]
    }
    compared = 0
    for key, chart in _bundle("charts").items():
        params = chart["params"]
        if chart["viz_type"] != "big_number_total" or not isinstance(params.get("metric"), str):
            continue
        if any(f.get("comparator") not in (None, "No filter") for f in params.get("adhoc_filters", [])):
            continue  # a filtered number: its filter is the chart's own logic, not compared here
        dataset = datasets[chart["dataset_uuid"]]
        metric = next((m for m in dataset["metrics"] if m["metric_name"] == params["metric"]), None)
        if metric is None or dataset.get("sql"):
            continue
        ((expected,),) = clients.trino_query(
            settings,
            f"SELECT {metric['expression']} FROM {settings.namespaces.analytics}.{dataset['table_name']}",
            **analyst,
        )
        (row,) = api.chart_data(uuids[key], chart["slice_name"], force=True).rows
        (shown,) = row.values()
        assert math.isclose(float(shown), float(expected), rel_tol=1e-9), chart["_file"]
        compared += 1
    assert compared >= 3, "too few big numbers compared for the check to mean something"


def test_import_twice_gives_the_same_objects(settings: LakehouseSettings, api: SupersetClient) -> None:
    before = _objects(api)
    run_cli(settings, "dashboards", "import")
    run_cli(settings, "dashboards", "import")
    assert _objects(api) == before


def _bad_yaml(text: str) -> str:
    return text + "\n  broken: [unclosed\n"


def _dangling_dataset(text: str) -> str:
    return re.sub(r"^dataset_uuid: .*$", f"dataset_uuid: {uuid4()}", text, flags=re.MULTILINE)


@pytest.mark.parametrize("change", [_bad_yaml, _dangling_dataset], ids=["bad YAML", "dangling dataset"])
def test_a_broken_bundle_fails_with_a_message_naming_the_file(
    settings: LakehouseSettings, api: SupersetClient, tmp_path: Path, change: Callable[[str], str]
) -> None:
    before = _objects(api)
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, bundle)
    victim = sorted((bundle / "charts").glob("*.yaml"))[0]
    victim.write_text(change(victim.read_text()))
    result = run_cli(settings, "dashboards", "import", "--bundle", str(bundle), check=False)
    assert result.returncode == 14, result.stderr
    assert victim.name in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _objects(api) == before, "a failed import must change nothing"


def test_export_of_the_unchanged_dashboards_is_the_bundle(
    settings: LakehouseSettings, tmp_path: Path
) -> None:
    exported = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, exported)
    run_cli(settings, "dashboards", "export", "--bundle", str(exported))
    committed = {p.relative_to(BUNDLE_DIR): p.read_text() for p in BUNDLE_DIR.rglob("*.yaml")}
    written = {p.relative_to(exported): p.read_text() for p in exported.rglob("*.yaml")}
    assert sorted(written) == sorted(committed)
    changed = [str(path) for path, text in written.items() if committed[path] != text]
    assert not changed, f"export differs from the bundle in {changed}"


def test_every_dashboard_renders_every_chart_in_a_real_browser(
    superset_browser: SupersetPage, published: None, screenshots: Path
) -> None:
    charts_by_name = {c["slice_name"]: c for c in _bundle("charts").values()}
    for config in _bundle("dashboards").values():
        load = superset_browser.open_dashboard(config["slug"])
        assert load.charts, config["_file"]
        bad = [
            f"{c.title}: {c.state} {c.error}"
            for c in load.charts
            if c.state == "error" or (c.state == "no_results" and not _may_be_empty(charts_by_name[c.title]))
        ]
        assert not bad, f"{config['dashboard_title']}: {bad}"
        shot = superset_browser.screenshot(screenshots / f"{config['slug']}.png")
        assert shot.stat().st_size > 20_000, "a screenshot of a filled dashboard is not that small"
