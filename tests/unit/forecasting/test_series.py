"""Many series at once: the history each is forecast from, and the shape of what comes out."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from core.exceptions import ForecastError
from forecasting.series import ForecastOptions, forecast_series, unbroken_tail

START = date(2026, 3, 2)


def days(n: int, start: date = START) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def frame(series: dict[str, list[tuple[date, float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(key, day, value) for key, points in series.items() for day, value in points],
        columns=["region_code", "local_date", "value"],
    )


def test_the_history_starts_after_the_last_gap() -> None:
    dates = days(3) + days(4, START + timedelta(days=5))
    assert unbroken_tail(dates) == 3
    assert unbroken_tail(days(5)) == 0
    assert unbroken_tail([START]) == 0


def test_every_series_gets_each_method_for_every_day_ahead() -> None:
    history = frame(
        {
            "ALG": [(d, 100.0 + i) for i, d in enumerate(days(21))],
            "ORN": [(d, 50.0 + (i % 7)) for i, d in enumerate(days(10))],
        }
    )
    forecasts, backtests = forecast_series(history, ["region_code"])
    per_series = forecasts.groupby(["region_code", "method"]).forecast_date.apply(list)
    assert len(per_series) == 4  # two regions x (ets, seasonal_naive)
    for (region, _), forecast_dates in per_series.items():
        last = history[history.region_code == region].local_date.max()
        assert forecast_dates == days(7, last + timedelta(days=1))
    assert set(forecasts.horizon_days) == set(range(1, 8))
    assert (forecasts.lower <= forecasts.point).all() and (forecasts.point <= forecasts.upper).all()
    assert sorted(backtests.method) == ["ets", "ets", "seasonal_naive", "seasonal_naive"]
    assert set(backtests.test_days) == {7}


def test_a_gap_cuts_the_history_and_the_forecast_follows_the_last_day() -> None:
    points = [(d, 10.0) for d in days(5)] + [(d, 20.0) for d in days(6, START + timedelta(days=8))]
    forecasts, _ = forecast_series(frame({"ALG": points}), ["region_code"])
    first = forecasts.iloc[0]
    assert (first.history_start, first.history_days) == (START + timedelta(days=8), 6)
    assert first.forecast_date == START + timedelta(days=14)


def test_horizon_coverage_and_methods_are_options() -> None:
    history = frame({"ALG": [(d, float(v)) for d, v in zip(days(15), np.arange(15) % 7 + 10, strict=True)]})
    options = ForecastOptions(horizon_days=3, coverage=0.95, methods=["seasonal_naive"])
    forecasts, _ = forecast_series(history, ["region_code"], options=options)
    assert forecasts.horizon_days.tolist() == [1, 2, 3]
    assert set(forecasts.method) == {"seasonal_naive"} and set(forecasts.coverage) == {0.95}


def test_two_rows_for_one_day_are_refused() -> None:
    history = frame({"ALG": [(START, 1.0), (START, 2.0)]})
    with pytest.raises(ForecastError, match="more than one row per region_code, local_date"):
        forecast_series(history, ["region_code"])


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ForecastError, match="no column value"):
        forecast_series(frame({}).drop(columns="value"), ["region_code"])


def test_no_history_gives_empty_tables_with_their_columns() -> None:
    forecasts, backtests = forecast_series(frame({}), ["region_code"])
    assert forecasts.empty and "point" in forecasts.columns
    assert backtests.empty and "smape" in backtests.columns
