"""The two forecast models: what each repeats or fits, their intervals, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from core.exceptions import ForecastError
from forecasting.models import WEEK, ExponentialSmoothing, SeasonalNaive, model

WEEKLY = np.array([1.0, 1.02, 1.01, 1.03, 1.06, 0.86, 0.78])  # weekdays busier than the weekend


def weekly_series(days: int, seed: int, level: float = 1000.0, noise: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * WEEKLY[np.arange(days) % WEEK] * (1 + noise * rng.standard_normal(days))


def test_seasonal_naive_repeats_the_last_week_day_by_day() -> None:
    history = np.arange(1.0, 16.0)  # 15 days: the last week is days 9..15
    forecast = SeasonalNaive().forecast(history, 10, 0.8)
    assert forecast.point.tolist() == [9, 10, 11, 12, 13, 14, 15, 9, 10, 11]


def test_seasonal_naive_repeats_the_last_day_when_there_is_no_whole_week_before_it() -> None:
    forecast = SeasonalNaive().forecast(np.array([5.0, 7.0, 6.0, 8.0]), 7, 0.8)
    assert forecast.point.tolist() == [8.0] * 7


def test_seasonal_naive_interval_widens_with_each_week_ahead() -> None:
    forecast = SeasonalNaive().forecast(weekly_series(28, seed=1), 14, 0.8)
    width = forecast.upper - forecast.lower
    assert width[0] > 0
    assert np.allclose(width[:7], width[0])
    assert np.allclose(width[7:], width[0] * np.sqrt(2))


@pytest.mark.parametrize("days", [3, 4, 10, 14, 28, 60])
@pytest.mark.parametrize("name", ["ets", "seasonal_naive"])
def test_every_interval_holds_its_point_and_nothing_is_negative(name: str, days: int) -> None:
    forecast = model(name).forecast(weekly_series(days, seed=days, noise=0.4), 7, 0.8)
    assert forecast.point.shape == (7,)
    assert (forecast.lower <= forecast.point).all() and (forecast.point <= forecast.upper).all()
    assert (forecast.lower >= 0).all()


def test_ets_learns_the_weekly_season_from_two_weeks() -> None:
    forecast = ExponentialSmoothing().forecast(weekly_series(35, seed=3, noise=0.01), 7, 0.8)
    assert forecast.method == "ets"
    # 35 days end on the last day of a week: the next 7 are the pattern again, Monday first.
    assert np.allclose(forecast.point / 1000, WEEKLY, atol=0.03)


def test_ets_smooths_noise_the_baseline_repeats() -> None:
    """Over many seeded noisy series ETS' error is below seasonal-naive's (it averages weeks)."""
    ets, naive = [], []
    for seed in range(20):
        series = weekly_series(42, seed=seed, noise=0.05)
        train, actual = series[:35], series[35:]
        ets.append(np.abs(ExponentialSmoothing().forecast(train, 7, 0.8).point - actual).mean())
        naive.append(np.abs(SeasonalNaive().forecast(train, 7, 0.8).point - actual).mean())
    assert np.mean(ets) < 0.85 * np.mean(naive)


def test_ets_80_percent_intervals_cover_about_80_percent() -> None:
    hits = []
    for seed in range(40):
        series = weekly_series(49, seed=100 + seed, noise=0.05)
        forecast = ExponentialSmoothing().forecast(series[:42], 7, 0.8)
        hits += ((forecast.lower <= series[42:]) & (series[42:] <= forecast.upper)).tolist()
    assert 0.65 <= np.mean(hits) <= 0.93


@pytest.mark.parametrize("history", [[4.0, 4.0, 4.0, 4.0, 4.0], [3.0, 9.0]], ids=["constant", "two days"])
def test_ets_falls_back_to_the_baseline_where_it_cannot_fit(history: list[float]) -> None:
    forecast = ExponentialSmoothing().forecast(np.array(history), 7, 0.8)
    assert forecast.method == "seasonal_naive (fallback)"
    assert forecast.point.tolist() == [history[-1]] * 7


def test_ets_fits_a_series_of_zeros_and_quiet_days() -> None:
    quiet = weekly_series(21, seed=4) * (np.arange(21) % 3 == 0)  # most days nothing
    forecast = ExponentialSmoothing().forecast(quiet, 7, 0.8)
    assert np.isfinite(forecast.point).all() and (forecast.lower >= 0).all()


@pytest.mark.parametrize(
    ("history", "horizon", "coverage", "message"),
    [
        ([], 7, 0.8, "non-empty"),
        ([1.0, float("nan"), 2.0], 7, 0.8, "missing or infinite"),
        ([1.0, float("inf"), 2.0], 7, 0.8, "missing or infinite"),
        ([1.0, 2.0, 3.0], 0, 0.8, "horizon must be at least 1"),
        ([1.0, 2.0, 3.0], 7, 1.0, "coverage must be between 0 and 1"),
        ([1.0, 2.0, 3.0], 7, 0.0, "coverage must be between 0 and 1"),
    ],
)
@pytest.mark.parametrize("name", ["ets", "seasonal_naive"])
def test_bad_input_is_refused_with_what_is_wrong(
    name: str, history: list[float], horizon: int, coverage: float, message: str
) -> None:
    with pytest.raises(ForecastError, match=message):
        model(name).forecast(np.array(history), horizon, coverage)


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(
        ForecastError, match="unknown forecast model 'prophet': choose one of seasonal_naive, ets"
    ):
        model("prophet")
