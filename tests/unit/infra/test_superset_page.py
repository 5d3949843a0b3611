"""The Superset page driver's bookkeeping, without a browser: layouts, addresses, settling."""

from __future__ import annotations

import json
from typing import Any

from infra.superset_page import SupersetPage, _Progress, charts_in_layout


def _chart(node_id: str, chart_id: int, parents: list[str]) -> dict[str, Any]:
    return {"type": "CHART", "id": node_id, "children": [], "parents": parents, "meta": {"chartId": chart_id}}


def test_layout_names_each_chart_with_the_tabs_it_sits_in() -> None:
    position = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["TABS-1"]},
        "CHART-a": _chart("CHART-a", 7, ["ROOT_ID", "TABS-1", "TAB-x", "ROW-1"]),
        "CHART-b": _chart("CHART-b", 8, ["ROOT_ID", "TABS-1", "TAB-y", "TABS-2", "TAB-z", "ROW-2"]),
        "CHART-c": _chart("CHART-c", 9, ["ROOT_ID", "GRID_ID", "ROW-3"]),
    }
    assert charts_in_layout(json.dumps(position), [1, 2]) == {7: ["TAB-x"], 8: ["TAB-y", "TAB-z"], 9: []}


def test_without_a_saved_layout_every_chart_of_the_dashboard_is_expected() -> None:
    assert charts_in_layout(None, [3, 4]) == {3: [], 4: []}
    assert charts_in_layout("{}", [3]) == {3: []}


def test_dashboard_addresses() -> None:
    page = SupersetPage(driver=None)  # type: ignore[arg-type]
    page.base_url = "http://127.0.0.1:8088"
    assert page.dashboard_url("cdr-kpis") == "http://127.0.0.1:8088/superset/dashboard/cdr-kpis/"
    assert page.dashboard_url(12, force=True) == "http://127.0.0.1:8088/superset/dashboard/12/?force=true"
    url = "http://h:1/superset/dashboard/5/?native_filters_key=k"
    assert page.dashboard_url(url, force=True) == url + "&force=true"


def _snap(now_ms: float, **states: str) -> dict[str, Any]:
    charts = [{"id": int(i[1:]), "state": s, "visible": True} for i, s in states.items()]
    return {"now": now_ms, "charts": charts}


def test_progress_times_each_chart_from_when_it_entered_its_state() -> None:
    progress = _Progress()
    progress.observe(_snap(100, c1="loading", c2="loading"))
    progress.observe(_snap(900, c1="rendered", c2="loading"))
    progress.observe(_snap(1500, c1="rendered", c2="error"))
    progress.observe(_snap(2100, c1="rendered", c2="error"))
    assert progress.since == {1: 0.9, 2: 1.5}
    assert progress.stable_since == 1.5  # unchanged since the error showed
    assert set(progress.settled()) == {1, 2}


def test_a_chart_in_a_tab_left_keeps_its_settled_state() -> None:
    progress = _Progress()
    progress.observe(_snap(500, c1="rendered"))
    hidden = {"now": 800, "charts": [{"id": 1, "state": "pending", "visible": False}]}
    progress.observe(hidden)
    assert progress.settled()[1]["state"] == "rendered"
    assert progress.visible == {}
