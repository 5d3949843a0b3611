"""The browser harness itself, on a real Superset: it must tell a rendered chart from an error and
from "no results", or a dashboard test built on it could never fail.

The test builds a throwaway dashboard through Superset's REST API on the database the
``superset_database`` fixture names: virtual datasets of constant SELECTs (no table needed, the
same SQL on Trino, PostgreSQL or SQLite), a chart on each outcome, and removes it all afterwards.
The no-results chart sits more than two screens down, beyond what Superset's dashboard
virtualization renders ahead, and a fourth chart sits in a second tab.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.browser import DEFAULT_VIEWPORT
from infra.superset_page import DashboardTimeoutError, SupersetPage, SupersetPageError
from tests.integration.browser import SupersetApi, logged_in_page

CALLS_SQL = "SELECT 'voice' AS kind, 120 AS minutes UNION ALL SELECT 'sms', 30 UNION ALL SELECT 'data', 300"
# Superset runs a new dataset's SQL to read its columns, so the broken one is made valid, then
# broken: its charts fail at query time, as a dataset whose table lost a column does.
BROKEN_SQL = f"SELECT kind, no_such_column AS minutes FROM ({CALLS_SQL}) AS calls"
MINUTES = {"expressionType": "SQL", "sqlExpression": "SUM(minutes)", "label": "total_minutes"}
NO_ROWS = [{"expressionType": "SQL", "clause": "WHERE", "sqlExpression": "1 = 0"}]
TALL = 160  # grid units (8 px): two such rows push the third beyond virtualization's margin


@dataclass
class Harness:
    """The throwaway dashboard: its slug and the title of each chart by expected outcome."""

    slug: str
    titles: dict[str, str]  # rendered, error, no_results, other_tab
    main_tab: str


def _layout(title: str, rows: list[tuple[str, int, int]]) -> dict[str, Any]:
    """position_json with tabs Main and More; ``rows`` are (tab, chart id, height)."""
    layout: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["TABS-harness"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": title}},
        "TABS-harness": {
            "type": "TABS",
            "id": "TABS-harness",
            "children": ["TAB-main", "TAB-more"],
            "parents": ["ROOT_ID"],
            "meta": {},
        },
    }
    for tab, text in (("TAB-main", "Main"), ("TAB-more", "More")):
        parents = ["ROOT_ID", "TABS-harness"]
        layout[tab] = {"type": "TAB", "id": tab, "children": [], "parents": parents, "meta": {"text": text}}
    for index, (tab, chart_id, height) in enumerate(rows):
        row, chart = f"ROW-{index}", f"CHART-{index}"
        layout[tab]["children"].append(row)
        parents = ["ROOT_ID", "TABS-harness", tab]
        layout[row] = {
            "type": "ROW",
            "id": row,
            "children": [chart],
            "parents": parents,
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        layout[chart] = {
            "type": "CHART",
            "id": chart,
            "children": [],
            "parents": [*parents, row],
            "meta": {"width": 12, "height": height, "chartId": chart_id},
        }
    return layout


@pytest.fixture(scope="module")
def harness(superset_url: str, superset_admin: tuple[str, str], superset_database: str) -> Iterator[Harness]:
    api = SupersetApi(superset_url, *superset_admin)
    database = api.database_id(superset_database)
    tag = f"harness_{secrets.token_hex(4)}"
    made: list[str] = []  # API paths to delete, newest first
    try:
        datasets = {}
        for name in ("calls", "broken"):
            body = {"database": database, "table_name": f"{tag}_{name}", "sql": CALLS_SQL}
            datasets[name] = api.request("POST", "/api/v1/dataset/", json=body)["id"]
            made.insert(0, f"/api/v1/dataset/{datasets[name]}")
        api.request("PUT", f"/api/v1/dataset/{datasets['broken']}", json={"sql": BROKEN_SQL})
        title = f"Browser harness {tag}"
        dashboard = api.request(
            "POST", "/api/v1/dashboard/", json={"dashboard_title": title, "slug": tag, "published": True}
        )["id"]
        made.insert(0, f"/api/v1/dashboard/{dashboard}")
        specs = {
            "rendered": ("pie", "calls", {"groupby": ["kind"], "metric": MINUTES}),
            "error": ("pie", "broken", {"groupby": ["kind"], "metric": MINUTES}),
            "no_results": (
                "pie",
                "calls",
                {"groupby": ["kind"], "metric": MINUTES, "adhoc_filters": NO_ROWS},
            ),
            "other_tab": (
                "table",
                "calls",
                {"query_mode": "aggregate", "groupby": ["kind"], "metrics": [MINUTES]},
            ),
        }
        titles, ids = {}, {}
        for outcome, (viz, dataset, params) in specs.items():
            titles[outcome] = f"{tag} {outcome}"
            form = {
                "viz_type": viz,
                "datasource": f"{datasets[dataset]}__table",
                "adhoc_filters": [],
                **params,
            }
            body = {
                "slice_name": titles[outcome],
                "viz_type": viz,
                "datasource_id": datasets[dataset],
                "datasource_type": "table",
                "params": json.dumps(form),
                "dashboards": [dashboard],
            }
            ids[outcome] = api.request("POST", "/api/v1/chart/", json=body)["id"]
            made.insert(1, f"/api/v1/chart/{ids[outcome]}")  # after the dashboard, before datasets
        rows = [
            ("TAB-main", ids["rendered"], TALL),
            ("TAB-main", ids["error"], TALL),
            ("TAB-main", ids["no_results"], 50),
            ("TAB-more", ids["other_tab"], 50),
        ]
        position = json.dumps(_layout(title, rows))
        api.request("PUT", f"/api/v1/dashboard/{dashboard}", json={"position_json": position})
        yield Harness(tag, titles, "TAB-main")
    finally:
        for path in made:
            api.request("DELETE", path)


def test_the_driver_tells_rendered_from_error_from_no_results(
    superset_browser: SupersetPage, harness: Harness
) -> None:
    load = superset_browser.open_dashboard(harness.slug, force=True)
    charts = load.by_title()
    assert set(charts) == set(harness.titles.values()), charts
    state = {outcome: charts[title].state for outcome, title in harness.titles.items()}
    assert state == {
        "rendered": "rendered",
        "error": "error",
        "no_results": "no_results",
        "other_tab": "rendered",
    }

    error = charts[harness.titles["error"]].error
    assert "no_such_column" in error.lower(), error
    assert charts[harness.titles["no_results"]].error  # the empty state's message
    assert charts[harness.titles["rendered"]].error == ""
    table = charts[harness.titles["other_tab"]].text
    assert "voice" in table and "300" in table, table  # the table's cells, read off the page
    assert load.tabs_opened == 1
    assert 0 < min(c.done_s for c in load.charts) <= max(c.done_s for c in load.charts) == load.elapsed_s


def test_charts_below_the_fold_were_waited_for(superset_browser: SupersetPage, harness: Harness) -> None:
    # The no-results chart starts more than two screens down: without scrolling (or Superset
    # treating the browser as a bot) virtualization would leave it loading.
    load = superset_browser.open_dashboard(harness.slug)
    assert load.tabs_opened == 1
    assert superset_browser.active_tabs() == [harness.main_tab]  # back where the dashboard opened
    top = superset_browser.driver.execute_script(
        "const el = [...document.querySelectorAll('[data-test=\"chart-grid-component\"]')]"
        "  .find(e => e.getAttribute('data-test-chart-name') === arguments[0]);"
        "return el.getBoundingClientRect().top + window.scrollY;",
        harness.titles["no_results"],
    )
    assert top > 2 * DEFAULT_VIEWPORT[1]


def test_a_dashboard_that_does_not_settle_in_time_names_its_charts(
    superset_browser: SupersetPage, harness: Harness
) -> None:
    with pytest.raises(DashboardTimeoutError) as raised:
        superset_browser.open_dashboard(harness.slug, timeout=0.1, force=True)
    assert raised.value.pending
    assert {c["state"] for c in raised.value.pending} <= {"loading", "pending", "not on the page"}


def test_screenshot_covers_the_whole_dashboard(
    superset_browser: SupersetPage, harness: Harness, tmp_path: Path
) -> None:
    superset_browser.open_dashboard(harness.slug)
    png = superset_browser.screenshot(tmp_path / "dashboard.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == DEFAULT_VIEWPORT[0]
    assert height > 2 * DEFAULT_VIEWPORT[1]  # the tall first tab, not just the viewport


def test_a_refused_login_says_so(superset_url: str, superset_admin: tuple[str, str]) -> None:
    user, password = superset_admin
    with (
        pytest.raises(SupersetPageError, match="refused"),
        logged_in_page(superset_url, user, password + "x"),
    ):
        pass


def test_logging_in_again_signs_out_first(
    superset_browser: SupersetPage, superset_url: str, superset_admin: tuple[str, str]
) -> None:
    superset_browser.login(superset_url, *superset_admin)  # already signed in: logout, then the form
    assert not superset_browser.driver.execute_script("return location.pathname").startswith("/login")
