"""The pipeline's forecast step: the next 7 days of traffic, revenue and busy-hour Erlangs.

Runs after the analytics gate, on the audited candidate marts, and writes its tables into the
analytics candidate namespace, so they are gated and published with the layer they come from
(app.publication): readers never see a forecast of data that was not published.

Tables (``settings.namespaces.analytics_candidate``, then views in ``analytics``):

- ``forecast_region_daily``: per region, metric (call attempts, SMS, data MB, revenue), method
  and future day: point forecast and its prediction interval;
- ``forecast_cell_busy_hour``: per cell, the busiest hour's Erlangs of each future day;
- ``forecast_backtest``: every series' held-out days scored, per method;
- ``forecast_accuracy``: the backtest summed up per target, metric and method.

Only whole days are forecast from: a day counts once the network has traffic in at least 23 of
its local hours (so a day the stream is still filling does not read as a collapse).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from core import clients
from core.contracts.forecast_tables import FORECAST_SCHEMAS
from core.settings import LakehouseSettings
from forecasting.series import ForecastOptions, forecast_series
from ingestion.iceberg_tables import ensure_table

log = logging.getLogger(__name__)
REGION_METRICS = ("call_attempts", "sms_count", "data_mb", "revenue")
BUSY_HOUR_METRIC = "busy_hour_erlangs"
WHOLE_DAY_HOURS = 23  # local hours with traffic for a day to count as landed (23: DST spring day)

SCHEMAS = FORECAST_SCHEMAS  # the tables' contract lives in core (their readers use it too)


@dataclass(frozen=True)
class ForecastReport:
    """What one forecast step wrote: rows per table, and the last day it forecast from (None:
    no whole day of traffic yet, nothing written)."""

    rows: dict[str, int]
    history_end: str | None


def _whole_days_sql(analytics: str) -> str:
    return (
        f"SELECT local_date FROM {analytics}.kpi_cell_hourly GROUP BY local_date "
        f"HAVING count(DISTINCT local_hour) >= {WHOLE_DAY_HOURS}"
    )


def _query_frame(settings: LakehouseSettings, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(clients.trino_query(settings, sql), columns=columns)


def _filled(frame: pd.DataFrame, key: str, whole_days: list, value_columns: list[str]) -> pd.DataFrame:
    """Each series on every whole day from its first: a landed day without its traffic is a 0."""
    parts = []
    for value, group in frame.groupby(key, sort=True):
        days = [d for d in whole_days if d >= group["local_date"].min()]
        full = group.set_index("local_date").reindex(days)
        full[value_columns] = full[value_columns].fillna(0.0).astype(float)
        full[key] = value
        parts.append(full.rename_axis("local_date").reset_index())
    return pd.concat(parts, ignore_index=True) if parts else frame


def region_history(settings: LakehouseSettings, whole_days: list) -> pd.DataFrame:
    """Long table (region_code, metric, local_date, value) of the region-day KPIs on whole days."""
    analytics = settings.namespaces.analytics_candidate
    metrics = ", ".join(REGION_METRICS)
    wide = _query_frame(
        settings,
        f"SELECT region_code, local_date, {metrics} FROM {analytics}.kpi_region_daily "
        f"WHERE local_date IN ({_whole_days_sql(analytics)})",
        ["region_code", "local_date", *REGION_METRICS],
    )
    wide = _filled(wide, "region_code", whole_days, list(REGION_METRICS))
    return wide.melt(["region_code", "local_date"], list(REGION_METRICS), "metric", "value")


def cell_history(settings: LakehouseSettings, whole_days: list) -> pd.DataFrame:
    """(network_element_id, local_date, value): each cell's busiest hour's Erlangs per whole day.

    The day's own peak hour, not ITU-T E.500's time-consistent busy hour: a cell's peak moves
    with its area's life, and capacity must carry whichever hour it falls in."""
    analytics = settings.namespaces.analytics_candidate
    frame = _query_frame(
        settings,
        f"SELECT network_element_id, local_date, max(erlangs) FROM {analytics}.kpi_cell_hourly "
        f"WHERE local_date IN ({_whole_days_sql(analytics)}) GROUP BY 1, 2",
        ["network_element_id", "local_date", "value"],
    )
    return _filled(frame, "network_element_id", whole_days, ["value"])


def accuracy(backtests: pd.DataFrame) -> pd.DataFrame:
    """The backtest per target, metric and method: series scored, mean/median sMAPE, coverage."""
    if backtests.empty:
        return pd.DataFrame(columns=SCHEMAS["forecast_accuracy"].names)
    grouped = backtests.groupby(["target", "metric", "method"], sort=True)
    return grouped.agg(
        series=("series_key", "count"),
        test_days=("test_days", "max"),
        mean_smape=("smape", "mean"),
        median_smape=("smape", "median"),
        mean_coverage_hit=("coverage_hit", "mean"),
    ).reset_index()


def _write(settings: LakehouseSettings, name: str, frame: pd.DataFrame) -> int:
    schema = SCHEMAS[name]
    table = ensure_table(
        clients.iceberg_catalog(settings), f"{settings.namespaces.analytics_candidate}.{name}", schema
    )
    rows = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    # One commit replaces the last run's forecast (a re-run is idempotent); a new table has
    # nothing to replace (PyIceberg would warn that its delete matched nothing).
    if table.current_snapshot() is None:
        table.append(rows)
    else:
        table.overwrite(rows)
    return rows.num_rows


def run_forecasts(settings: LakehouseSettings, options: ForecastOptions | None = None) -> ForecastReport:
    """Forecast from the audited candidate marts and write the four forecast tables."""
    analytics = settings.namespaces.analytics_candidate
    whole_days = sorted(row[0] for row in clients.trino_query(settings, _whole_days_sql(analytics)))
    if not whole_days:
        # Nothing to forecast from yet (e.g. only part of a streamed day): the pipeline goes on
        # and the last published forecast, if any, stays as it was.
        return ForecastReport({}, None)
    made_at = datetime.now(UTC)
    regions, region_scores = forecast_series(
        region_history(settings, whole_days), ["region_code", "metric"], options=options
    )
    cells, cell_scores = forecast_series(
        cell_history(settings, whole_days), ["network_element_id"], options=options
    )
    region_scores = region_scores.assign(target="region_daily", series_key=region_scores["region_code"])
    cell_scores = cell_scores.assign(
        target="cell_busy_hour", metric=BUSY_HOUR_METRIC, series_key=cell_scores["network_element_id"]
    )
    backtests = pd.concat([region_scores, cell_scores], ignore_index=True)
    written = {
        "forecast_region_daily": _write(settings, "forecast_region_daily", regions.assign(made_at=made_at)),
        "forecast_cell_busy_hour": _write(settings, "forecast_cell_busy_hour", cells.assign(made_at=made_at)),
        "forecast_backtest": _write(settings, "forecast_backtest", backtests),
        "forecast_accuracy": _write(settings, "forecast_accuracy", accuracy(backtests)),
    }
    return ForecastReport(written, str(whole_days[-1]))
