"""Many daily series at once: one long table in, forecast and backtest tables out.

The input has a row per series and local day (``keys`` name the series, e.g. region and metric).
Each series is forecast from its last unbroken run of days: a missing day is a gap in the data
(nothing landed), not a day of zero traffic, so the history starts after the last gap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.exceptions import ForecastError
from forecasting.backtest import backtest
from forecasting.models import BASELINE, ForecastModel, model

HORIZON_DAYS = 7
COVERAGE = 0.8  # the prediction interval: 80%, the width capacity planners usually read
METHODS = ("ets", BASELINE)  # every forecast beside its seasonal-naive baseline


@dataclass(frozen=True)
class ForecastOptions:
    """What :func:`forecast_series` makes: how far ahead, which interval, which methods."""

    horizon_days: int = HORIZON_DAYS
    coverage: float = COVERAGE
    methods: Sequence[str] = field(default=METHODS)


def unbroken_tail(dates: Sequence[date]) -> int:
    """Index of the first day of the last run of consecutive days in sorted ``dates``."""
    start = 0
    for i in range(1, len(dates)):
        if dates[i] - dates[i - 1] != timedelta(days=1):
            start = i
    return start


def _series(
    frame: pd.DataFrame, keys: list[str], date_column: str, value_column: str
) -> Iterator[tuple[tuple, list[date], np.ndarray]]:
    missing = [c for c in [*keys, date_column, value_column] if c not in frame.columns]
    if missing:
        raise ForecastError(f"the history has no column {', '.join(missing)}")
    if frame.duplicated([*keys, date_column]).any():
        raise ForecastError(f"the history has more than one row per {', '.join([*keys, date_column])}")
    for key, group in frame.sort_values([*keys, date_column]).groupby(keys, sort=True):
        dates = [d if isinstance(d, date) else pd.Timestamp(d).date() for d in group[date_column]]
        start = unbroken_tail(dates)
        yield (
            key if isinstance(key, tuple) else (key,),
            dates[start:],
            group[value_column].to_numpy(dtype=float)[start:],
        )


def forecast_series(
    frame: pd.DataFrame,
    keys: list[str],
    date_column: str = "local_date",
    value_column: str = "value",
    options: ForecastOptions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast every series of ``frame`` with each method and backtest them on their last days.

    Returns (forecasts, backtests): forecasts has ``keys``, ``method``, ``forecast_date``,
    ``horizon_days`` (1 = the day after the history), ``point``, ``lower``, ``upper``,
    ``coverage``, ``history_start``, ``history_end``, ``history_days``; backtests has ``keys``
    and each :class:`forecasting.backtest.BacktestScore` field.
    """
    options = options or ForecastOptions()
    models: list[ForecastModel] = [model(name) for name in options.methods]
    forecasts: list[dict] = []
    scores: list[dict] = []
    for key, dates, values in _series(frame, keys, date_column, value_column):
        named = dict(zip(keys, key, strict=True))
        for candidate in models:
            result = candidate.forecast(values, options.horizon_days, options.coverage)
            for ahead in range(options.horizon_days):
                forecasts.append(
                    {
                        **named,
                        "method": result.method,
                        "forecast_date": dates[-1] + timedelta(days=ahead + 1),
                        "horizon_days": ahead + 1,
                        "point": float(result.point[ahead]),
                        "lower": float(result.lower[ahead]),
                        "upper": float(result.upper[ahead]),
                        "coverage": options.coverage,
                        "history_start": dates[0],
                        "history_end": dates[-1],
                        "history_days": len(dates),
                    }
                )
        for score in backtest(values, options.horizon_days, models, options.coverage):
            scores.append({**named, **asdict(score)})
    forecast_columns = [*keys, "method", "forecast_date", "horizon_days", "point", "lower", "upper"]
    score_columns = [*keys, "method", "train_days", "test_days", "smape", "mae", "coverage_hit"]
    return (
        pd.DataFrame(
            forecasts, columns=[*forecast_columns, "coverage", "history_start", "history_end", "history_days"]
        ),
        pd.DataFrame(scores, columns=score_columns),
    )
