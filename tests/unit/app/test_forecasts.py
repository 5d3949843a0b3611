"""The forecast step's own logic, without the stack: filling the days, the accuracy summary."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from app.forecasts import SCHEMAS, _filled, accuracy

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(5)]


def test_a_whole_day_without_a_series_traffic_counts_zero_from_its_first_day_on() -> None:
    frame = pd.DataFrame(
        {
            "network_element_id": ["A", "A", "B"],
            "local_date": [DAYS[0], DAYS[3], DAYS[2]],
            "value": [4.0, 6.0, 1.0],
        }
    )
    filled = _filled(frame, "network_element_id", DAYS, ["value"]).set_index(
        ["network_element_id", "local_date"]
    )
    assert filled.loc["A"].value.tolist() == [4.0, 0.0, 0.0, 6.0, 0.0]
    assert filled.loc["B"].index.tolist() == DAYS[2:], "no days before the cell's first"
    assert filled.loc["B"].value.tolist() == [1.0, 0.0, 0.0]


def test_accuracy_sums_up_each_target_metric_and_method() -> None:
    backtests = pd.DataFrame(
        {
            "target": ["region_daily"] * 4,
            "metric": ["call_attempts"] * 4,
            "series_key": ["ALG", "ORN", "ALG", "ORN"],
            "method": ["ets", "ets", "seasonal_naive", "seasonal_naive"],
            "test_days": [7, 7, 7, 7],
            "smape": [0.01, 0.03, 0.02, 0.06],
            "coverage_hit": [1.0, 0.5, 1.0, 1.0],
        }
    )
    summary = accuracy(backtests).set_index("method")
    assert summary.loc["ets", "series"] == 2
    assert summary.loc["ets", "mean_smape"] == 0.02 and summary.loc["seasonal_naive", "median_smape"] == 0.04
    assert summary.loc["ets", "mean_coverage_hit"] == 0.75
    # What the step writes fits the table's schema.
    pa.Table.from_pandas(
        accuracy(backtests)[SCHEMAS["forecast_accuracy"].names], schema=SCHEMAS["forecast_accuracy"]
    )


def test_no_backtest_gives_an_empty_summary_with_the_tables_columns() -> None:
    assert list(accuracy(pd.DataFrame()).columns) == SCHEMAS["forecast_accuracy"].names
