"""Dashboards: how long each takes to render in a real browser, and each chart's query on Trino.

Render: headless Chromium opens every dashboard of the bundle until all its charts settled, once
cold (``force``: Superset's result cache bypassed, every query sent to Trino) and then warm
(results from the cache), the time counted from navigation start. Queries: the SQL Superset
generates for each chart (``/api/v1/chart/{id}/data/?type=query``), run directly on Trino, so
that the same statements can be timed on the user's marts and on the 10M-event marts that
``dbt_bench`` builds.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from core import clients
from core.settings import LakehouseSettings
from infra.browser import chromium_session
from infra.superset_api import SupersetClient
from infra.superset_page import SupersetPage

WARM_RUNS = 3
QUERY_RUNS = 10


@dataclass
class RenderTiming:
    dashboard: str
    charts: int
    cold_s: float
    warm_s: list[float]
    not_rendered: list[str]


@dataclass
class DashboardBenchResult:
    renders: list[RenderTiming] = field(default_factory=list)
    load_average: float = 0.0  # 1-minute load average when the run ended: 2 cores, what else ran
    # chart title -> p95 seconds of its SQL on Trino, per data set ("default", "10M events", ...)
    query_p95_s: dict[str, dict[str, float]] = field(default_factory=dict)


def p95(timings: list[float]) -> float:
    """The 95th percentile (the largest of fewer than 20 runs is as close as they allow)."""
    if len(timings) < 20:
        return max(timings)
    return statistics.quantiles(timings, n=20)[18]


def chart_queries(settings: LakehouseSettings) -> dict[str, str]:
    """Every bundle chart's SQL as Superset sends it to Trino (dashboard filters at defaults)."""
    client = SupersetClient(settings.superset)
    queries: dict[str, str] = {}
    for dashboard in client.dashboards():
        for chart in client.dashboard_charts(dashboard["id"]):
            body = client.get(f"/api/v1/chart/{chart['id']}/data/", type="query")
            # Superset ends its statement with ';', which Trino's client API refuses.
            statements = [r["query"].strip().rstrip(";") for r in body["result"] if r.get("query")]
            if statements:
                queries[f"{dashboard['dashboard_title']}: {chart['slice_name']}"] = statements[0]
    return queries


def retarget(sql: str, settings: LakehouseSettings, schema: str) -> str:
    """The same statement on another schema of the writable catalog (the bench's marts)."""
    t = settings.trino
    published = re.escape(settings.namespaces.analytics)
    pattern = rf"(?:\b{re.escape(t.readonly_catalog)}\.)?\b{published}\."
    return re.sub(pattern, f"{t.catalog}.{schema}.", sql)


def time_queries(
    settings: LakehouseSettings,
    queries: dict[str, str],
    schema: str,
    runs: int = QUERY_RUNS,
    **identity: Any,
) -> dict[str, float]:
    """p95 of each statement over ``runs`` executions after one warm-up, in session schema
    ``schema`` (a virtual dataset's SQL names its tables unqualified, as Superset runs it), as
    the engineer unless ``identity`` says otherwise (as in ``clients.trino_query``)."""
    result = {}
    for name, sql in queries.items():
        clients.trino_query(settings, sql, schema, **identity)
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            clients.trino_query(settings, sql, schema, **identity)
            timings.append(time.perf_counter() - began)
        result[name] = p95(timings)
    return result


def render_all(settings: LakehouseSettings) -> list[RenderTiming]:
    """Open every dashboard cold, then warm, in a real browser."""
    s = settings.superset
    client = SupersetClient(s)
    timings = []
    with chromium_session() as driver:
        page = SupersetPage(driver)
        page.login(s.url, s.admin_user, s.admin_password.get_secret_value())
        for dashboard in client.dashboards():
            key = dashboard["slug"] or dashboard["id"]
            cold = page.open_dashboard(key, force=True)
            warm = [page.open_dashboard(key).elapsed_s for _ in range(WARM_RUNS)]
            failed = [f"{c.title} ({c.state})" for c in cold.charts if c.state != "rendered"]
            timings.append(
                RenderTiming(dashboard["dashboard_title"], len(cold.charts), cold.elapsed_s, warm, failed)
            )
    return timings


def run(settings: LakehouseSettings, say=print) -> DashboardBenchResult:  # type: ignore[no-untyped-def]
    """Render timings and the chart queries' p95 on the user's published marts."""
    result = DashboardBenchResult(renders=render_all(settings))
    for r in result.renders:
        say(
            f"  {r.dashboard}: {r.charts} charts, cold {r.cold_s:.2f} s, warm "
            f"{min(r.warm_s):.2f}/{statistics.median(r.warm_s):.2f}/{max(r.warm_s):.2f} s"
        )
    # As Superset runs them: the analyst on the read-only catalog.
    t = settings.trino
    analyst = {"user": t.analyst_user, "password": t.analyst_password, "catalog": t.readonly_catalog}
    queries = chart_queries(settings)
    for name, seconds in time_queries(settings, queries, settings.namespaces.analytics, **analyst).items():
        result.query_p95_s.setdefault(name, {})["default data set"] = seconds
    result.load_average = os.getloadavg()[0]
    return result


def report(result: DashboardBenchResult) -> list[str]:
    """The BENCHMARKS.md section."""
    lines = [
        "## Dashboards (Superset, headless Chromium)",
        "",
        "Time from navigation start until every chart of the dashboard has rendered; cold bypasses",
        f"Superset's result cache (every query to Trino), warm is {WARM_RUNS} reloads (min / median / max).",
        f"Load average (1 min) at the end of the run: {result.load_average:.1f} on {os.cpu_count()} cores.",
        "",
        "| dashboard | charts | cold | warm min / median / max | not rendered | target (warm) |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in result.renders:
        verdict = "met" if max(r.warm_s) <= 3 else "NOT met"
        lines.append(
            f"| {r.dashboard} | {r.charts} | {r.cold_s:.2f} s | {min(r.warm_s):.2f} / "
            f"{statistics.median(r.warm_s):.2f} / {max(r.warm_s):.2f} s | {', '.join(r.not_rendered) or '-'} "
            f"| ≤ 3 s {verdict} |"
        )
    sets = sorted({name for per_set in result.query_p95_s.values() for name in per_set})
    lines += [
        "",
        f"Each chart's SQL (as Superset generates it) run on Trino: p95 of {QUERY_RUNS} runs after a warm-up",
        "(target: ≤ 1 s at 10M events).",
        "",
        "| chart | " + " | ".join(sets) + " |",
        "|---|" + "---:|" * len(sets),
    ]
    for name, per_set in sorted(result.query_p95_s.items()):
        cells = [f"{per_set[s]:.2f} s" if s in per_set else "-" for s in sets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    worst = {s: max(per.get(s, 0.0) for per in result.query_p95_s.values()) for s in sets}
    lines += ["", "Slowest chart query: " + "; ".join(f"{s} {v:.2f} s" for s, v in worst.items()) + ".", ""]
    return lines
