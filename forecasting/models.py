"""Forecast models behind one small interface: a daily history in, the next days with intervals out.

Two models, always run side by side so every forecast can be judged against a baseline:

- ``seasonal_naive``: each future day repeats the same weekday of the last week seen (the last
  day when the history is a week or shorter). Its interval widens with the number of seasons
  ahead (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., §5.5).
- ``ets``: statsmodels' exponential smoothing state-space model (ETSModel), additive error. With
  16 days of history or more it has an additive weekly season; shorter histories get a level
  only, as a weekly season cannot be estimated from them.

A model that fails to fit falls back to the baseline, named so in ``method``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm

from core.exceptions import ForecastError

log = logging.getLogger(__name__)
WEEK = 7  # days: the season of daily traffic and revenue
# The shortest history a weekly season is fitted on: statsmodels' heuristic start values need
# 10 + 2 * (7 // 2) days (a little over two weeks).
SEASONAL_MIN_DAYS = 10 + 2 * (WEEK // 2)


@dataclass(frozen=True)
class Forecast:
    """``horizon`` future days: the point forecast and a ``coverage`` prediction interval."""

    method: str
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        if not (self.point.shape == self.lower.shape == self.upper.shape):
            raise ValueError("point, lower and upper must have one value per future day")


class ForecastModel(Protocol):
    """A method that forecasts ``horizon`` days after ``history`` (one value per day, oldest first)."""

    name: str

    def forecast(self, history: np.ndarray, horizon: int, coverage: float) -> Forecast: ...


def _validated(history: np.ndarray, horizon: int, coverage: float) -> np.ndarray:
    values = np.asarray(history, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ForecastError("history must be a non-empty series of daily values")
    if not np.isfinite(values).all():
        raise ForecastError("history holds a missing or infinite value")
    if horizon < 1:
        raise ForecastError(f"horizon must be at least 1 day, got {horizon}")
    if not 0 < coverage < 1:
        raise ForecastError(f"coverage must be between 0 and 1 (exclusive), got {coverage}")
    return values


def _bounded(method: str, point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Forecast:
    """Traffic and revenue are never negative, and the interval always holds its point."""
    point = np.maximum(point, 0.0)
    return Forecast(method, point, np.clip(lower, 0.0, point), np.maximum(upper, point))


class SeasonalNaive:
    """Each future day repeats the same weekday of the last week (or the last day, if shorter)."""

    name = "seasonal_naive"

    def forecast(self, history: np.ndarray, horizon: int, coverage: float) -> Forecast:
        values = _validated(history, horizon, coverage)
        period = WEEK if values.size > WEEK else 1
        ahead = np.arange(horizon)
        point = values[values.size - period + ahead % period]
        residuals = values[period:] - values[:-period]
        sigma = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0
        seasons_ahead = ahead // period + 1
        half_width = norm.ppf(0.5 + coverage / 2) * sigma * np.sqrt(seasons_ahead)
        return _bounded(self.name, point, point - half_width, point + half_width)


class ExponentialSmoothing:
    """statsmodels' ETS: a weekly season from SEASONAL_MIN_DAYS of history, a level only before."""

    name = "ets"

    def __init__(self, fallback: ForecastModel | None = None) -> None:
        self.fallback = fallback or SeasonalNaive()

    def forecast(self, history: np.ndarray, horizon: int, coverage: float) -> Forecast:
        values = _validated(history, horizon, coverage)
        if values.size < 3 or np.ptp(values) == 0:
            # Too short to fit, or constant (ETS' likelihood is degenerate): the baseline is exact.
            return self._fall_back(values, horizon, coverage, "too short or constant")
        try:
            point, lower, upper = self._fit_and_predict(values, horizon, coverage)
        except (ValueError, np.linalg.LinAlgError) as error:
            return self._fall_back(values, horizon, coverage, str(error))
        if not (np.isfinite(point).all() and np.isfinite(lower).all() and np.isfinite(upper).all()):
            return self._fall_back(values, horizon, coverage, "the fit diverged")
        return _bounded(self.name, point, lower, upper)

    def _fit_and_predict(
        self, values: np.ndarray, horizon: int, coverage: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        seasonal = values.size >= SEASONAL_MIN_DAYS
        # Additive error and season: closed-form intervals (multiplicative ones are simulated,
        # ~50x slower over hundreds of cells), and zeros (a quiet cell's day) are allowed.
        model = ETSModel(
            pd.Series(values),  # an ndarray breaks get_prediction's labels in statsmodels 0.15
            error="add",
            trend=None,
            seasonal="add" if seasonal else None,
            seasonal_periods=WEEK if seasonal else None,
            # Start values not fitted (a fit of 1-2 parameters, not 2-10: ~10-30x faster):
            # heuristic ones for the season, the first day for a level alone.
            initialization_method="heuristic" if seasonal else "known",
            initial_level=None if seasonal else float(values[0]),
        )
        with warnings.catch_warnings():
            # Optimiser chatter on short or flat series; the result is checked for finiteness.
            warnings.simplefilter("ignore")
            fitted = model.fit(disp=False, maxiter=200)
            prediction = fitted.get_prediction(start=values.size, end=values.size + horizon - 1)
            frame = prediction.summary_frame(alpha=1 - coverage)
        return (
            frame["mean"].to_numpy(dtype=float),
            frame["pi_lower"].to_numpy(dtype=float),
            frame["pi_upper"].to_numpy(dtype=float),
        )

    def _fall_back(self, values: np.ndarray, horizon: int, coverage: float, why: str) -> Forecast:
        log.debug("ETS not fitted (%s): %s instead", why, self.fallback.name)
        baseline = self.fallback.forecast(values, horizon, coverage)
        return Forecast(f"{self.fallback.name} (fallback)", baseline.point, baseline.lower, baseline.upper)


MODELS: dict[str, type[SeasonalNaive] | type[ExponentialSmoothing]] = {
    SeasonalNaive.name: SeasonalNaive,
    ExponentialSmoothing.name: ExponentialSmoothing,
}
BASELINE = SeasonalNaive.name


def model(name: str) -> ForecastModel:
    """The forecast model called ``name`` (one of MODELS)."""
    try:
        return MODELS[name]()
    except KeyError:
        raise ForecastError(f"unknown forecast model {name!r}: choose one of {', '.join(MODELS)}") from None
