"""dbt on Trino at 1M and 10M events: full build, one more hour incrementally, dashboard p95.

Builds into `bench_*` schemas (dbt var `schema_prefix` before each layer's namespace, var
`raw_schema` for the landed events), never the user's layers.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import timedelta

from app.transform import run_dbt
from core import clients
from core.settings import LakehouseSettings
from generator.config import load_config, scale_to_rows
from generator.run import Generation
from ingestion.iceberg_batch import load_generation

PREFIX = "bench_"
RAW = f"{PREFIX}raw"
DAYS = 4
DASHBOARD_QUERIES = {
    "region KPIs, all days": "SELECT * FROM {a}.kpi_region_daily ORDER BY local_date, region_code",
    "top cells by Erlangs, one day": (
        "SELECT network_element_id, sum(erlangs) AS erlangs FROM {a}.kpi_cell_hourly "
        "WHERE local_date = DATE '{day}' GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
    ),
    "hourly ASR of a region, one day": (
        "SELECT k.local_hour, sum(k.answered_calls) * 1e0 / sum(k.call_attempts) AS asr "
        "FROM {a}.kpi_cell_hourly k JOIN {a}.dim_network_element e ON k.network_element_id = e.element_id "
        "WHERE e.region_code = 'ALG' AND k.local_date = DATE '{day}' GROUP BY 1 ORDER BY 1"
    ),
    "anomalies, one day": (
        "SELECT * FROM {a}.network_anomalies WHERE local_date = DATE '{day}' ORDER BY hour_start"
    ),
    "top talkers, one day": (
        "SELECT * FROM {a}.subscriber_daily_usage WHERE local_date = DATE '{day}' AND is_top_talker "
        "ORDER BY minutes_rank LIMIT 100"
    ),
    "revenue trend": (
        "SELECT region_code, local_date, revenue, revenue_change FROM {a}.region_daily_trend ORDER BY 1, 2"
    ),
}


@dataclass
class DbtBenchResult:
    events: int
    full_build_s: float = 0.0
    extra_events: int = 0
    incremental_s: float = 0.0
    query_p95_s: dict[str, float] = field(default_factory=dict)
    chart_query_p95_s: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.incremental_s / self.full_build_s

    @property
    def overall_p95_s(self) -> float:
        return max(self.query_p95_s.values())


def _dbt(settings: LakehouseSettings, *args: str) -> float:
    began = time.perf_counter()
    run_dbt(settings, [*args, "--vars", json.dumps({"raw_schema": RAW, "schema_prefix": PREFIX})])
    return time.perf_counter() - began


def drop_bench_schemas(settings: LakehouseSettings) -> None:
    catalog = clients.iceberg_catalog(settings)
    for (schema,) in clients.trino_query(settings, "SHOW SCHEMAS"):
        if not schema.startswith(PREFIX):
            continue
        for (name,) in clients.trino_query(settings, f"SHOW TABLES FROM {schema}"):
            try:
                catalog.purge_table(f"{schema}.{name}")
            except Exception:  # noqa: BLE001 - a view, not a table
                clients.trino_query(settings, f"DROP VIEW IF EXISTS {schema}.{name}")
        clients.trino_query(settings, f"DROP SCHEMA IF EXISTS {schema}")


def run(  # type: ignore[no-untyped-def]
    settings: LakehouseSettings, events: int, say=print, chart_queries: dict[str, str] | None = None
) -> DbtBenchResult:
    """Full and incremental dbt builds at ``events`` in bench_* schemas, then the dashboard
    queries (and the charts' own SQL, ``chart_queries``, retargeted to these marts) timed there."""
    drop_bench_schemas(settings)
    catalog = clients.iceberg_catalog(settings)
    subscribers = max(2000, events // 90)
    config = scale_to_rows(load_config(subscribers=subscribers, days=DAYS), events)
    generation = Generation(config)
    loaded = load_generation(catalog, generation, RAW).rows["cdr"]
    result = DbtBenchResult(events=loaded)
    say(f"  {loaded:,} events loaded; full build ...")
    result.full_build_s = _dbt(settings, "run", "--full-refresh")

    # One more hour: a day's worth of traffic / 24, on the next day.
    next_day = config.start + timedelta(days=DAYS)
    hour = scale_to_rows(
        load_config(subscribers=subscribers, days=1, start=next_day), max(1000, events // (DAYS * 24))
    )
    result.extra_events = load_generation(catalog, Generation(hour), RAW).rows["cdr"]
    say(f"  +{result.extra_events:,} events; incremental build ...")
    result.incremental_s = _dbt(settings, "run")

    day = (config.start + timedelta(days=1)).date().isoformat()
    for name, sql in DASHBOARD_QUERIES.items():
        statement = sql.format(a=f"{PREFIX}{settings.namespaces.analytics_candidate}", day=day)
        clients.trino_query(settings, statement)  # warm-up
        timings = []
        for _ in range(20):
            began = time.perf_counter()
            clients.trino_query(settings, statement)
            timings.append(time.perf_counter() - began)
        result.query_p95_s[name] = statistics.quantiles(timings, n=20)[18]
    if chart_queries:
        from bench.dashboards_bench import retarget, time_queries

        marts = f"{PREFIX}{settings.namespaces.analytics_candidate}"
        retargeted = {name: retarget(sql, settings, marts) for name, sql in chart_queries.items()}
        result.chart_query_p95_s = time_queries(settings, retargeted, marts)
    drop_bench_schemas(settings)
    return result
