"""Tables the pipeline's forecast step writes into the analytics layer (``app.forecasts``).

Not dbt models: written by Python (statsmodels) after the analytics gate, into the analytics
candidate namespace, and published with the marts they were made from.
"""

from __future__ import annotations

import pyarrow as pa

from core.contracts.raw_tables import TS, doc_field


def _required(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return doc_field(name, type_, doc, nullable=False)


_FORECAST_FIELDS = [
    _required("method", pa.string(), "ets | seasonal_naive | seasonal_naive (fallback): ETS could not fit"),
    _required("forecast_date", pa.date32(), "The local day forecast"),
    _required("horizon_days", pa.int32(), "Days after the last day of history (1 = the next day)"),
    _required("point", pa.float64(), "Point forecast"),
    _required("lower", pa.float64(), "Lower bound of the prediction interval (never negative)"),
    _required("upper", pa.float64(), "Upper bound of the prediction interval"),
    _required("coverage", pa.float64(), "Probability the interval is meant to hold the outcome (0.8)"),
    _required("history_start", pa.date32(), "First local day the series was fitted on"),
    _required("history_end", pa.date32(), "Last local day the series was fitted on (a whole day)"),
    _required("history_days", pa.int32(), "Days of history fitted on"),
    _required("made_at", TS, "When the pipeline made the forecast"),
]

FORECAST_SCHEMAS: dict[str, pa.Schema] = {
    "forecast_region_daily": pa.schema(
        [
            _required(
                "region_code", pa.string(), "Region of the serving cells (revenue: of the subscribers)"
            ),
            _required(
                "metric", pa.string(), "call_attempts | sms_count | data_mb | revenue (kpi_region_daily)"
            ),
            *_FORECAST_FIELDS,
        ]
    ),
    "forecast_cell_busy_hour": pa.schema(
        [
            _required("network_element_id", pa.string(), "Cell or access node"),
            *_FORECAST_FIELDS,
        ]
    ),
    "forecast_backtest": pa.schema(
        [
            _required("target", pa.string(), "region_daily | cell_busy_hour"),
            _required("metric", pa.string(), "The metric forecast (busy_hour_erlangs for cells)"),
            _required("series_key", pa.string(), "Region code or network element id of the series"),
            _required("method", pa.string(), "ets | seasonal_naive | seasonal_naive (fallback)"),
            _required("train_days", pa.int32(), "Days fitted on, before the held-out days"),
            _required("test_days", pa.int32(), "Last days held out and forecast (at most 7)"),
            _required("smape", pa.float64(), "Symmetric mean absolute percentage error, 0..2"),
            _required("mae", pa.float64(), "Mean absolute error, in the metric's unit"),
            _required("coverage_hit", pa.float64(), "Share of held-out days inside the interval"),
        ]
    ),
    "forecast_accuracy": pa.schema(
        [
            _required("target", pa.string(), "region_daily | cell_busy_hour"),
            _required("metric", pa.string(), "The metric forecast"),
            _required("method", pa.string(), "ets | seasonal_naive | seasonal_naive (fallback)"),
            _required("series", pa.int32(), "Series backtested"),
            _required("test_days", pa.int32(), "Most days held out of a series"),
            _required("mean_smape", pa.float64(), "Mean sMAPE over the series"),
            _required("median_smape", pa.float64(), "Median sMAPE over the series"),
            _required("mean_coverage_hit", pa.float64(), "Mean share of held-out days inside the interval"),
        ]
    ),
}
