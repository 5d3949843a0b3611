"""How good a model is on the data at hand: hold out the last days, forecast them, score.

One origin per series (the last ``horizon`` days held out, at most what leaves ``MIN_TRAIN_DAYS``
to fit on), scored by sMAPE and by the share of held-out days inside the prediction interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.models import ForecastModel

MIN_TRAIN_DAYS = 3  # the least ETS is fitted on (forecasting.models.ExponentialSmoothing)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric mean absolute percentage error in [0, 2]; a day where both are 0 scores 0."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    if actual.shape != forecast.shape or actual.size == 0:
        raise ValueError("actual and forecast must be non-empty and of one length")
    scale = np.abs(actual) + np.abs(forecast)
    errors = np.divide(2 * np.abs(forecast - actual), scale, out=np.zeros_like(scale), where=scale > 0)
    return float(errors.mean())


@dataclass(frozen=True)
class BacktestScore:
    """One model on one series: fitted on ``train_days``, scored on the ``test_days`` after."""

    method: str
    train_days: int
    test_days: int
    smape: float
    mae: float
    coverage_hit: float  # share of held-out days inside the interval


def held_out_days(history_days: int, horizon: int) -> int:
    """How many of the last days a backtest holds out (0: the series is too short to test)."""
    return max(0, min(horizon, history_days - MIN_TRAIN_DAYS))


def backtest(
    history: np.ndarray, horizon: int, models: list[ForecastModel], coverage: float
) -> list[BacktestScore]:
    """Score every model on the same held-out tail of ``history``; empty when it is too short."""
    values = np.asarray(history, dtype=float)
    held_out = held_out_days(values.size, horizon)
    if held_out == 0:
        return []
    train, actual = values[:-held_out], values[-held_out:]
    scores = []
    for candidate in models:
        forecast = candidate.forecast(train, held_out, coverage)
        inside = (forecast.lower <= actual) & (actual <= forecast.upper)
        scores.append(
            BacktestScore(
                method=forecast.method,
                train_days=train.size,
                test_days=held_out,
                smape=smape(actual, forecast.point),
                mae=float(np.abs(forecast.point - actual).mean()),
                coverage_hit=float(inside.mean()),
            )
        )
    return scores
