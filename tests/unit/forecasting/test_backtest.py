"""The backtest: what it holds out, and how it scores."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.backtest import MIN_TRAIN_DAYS, backtest, held_out_days, smape
from forecasting.models import ExponentialSmoothing, SeasonalNaive


@pytest.mark.parametrize(
    ("days", "held_out"), [(1, 0), (MIN_TRAIN_DAYS, 0), (MIN_TRAIN_DAYS + 1, 1), (9, 6), (10, 7), (400, 7)]
)
def test_the_backtest_holds_out_up_to_the_horizon_and_keeps_enough_to_fit(days: int, held_out: int) -> None:
    assert held_out_days(days, 7) == held_out


def test_smape_is_zero_for_a_perfect_forecast_and_two_for_the_worst() -> None:
    assert smape(np.array([3.0, 0.0]), np.array([3.0, 0.0])) == 0.0
    assert smape(np.array([5.0, 5.0]), np.array([0.0, 0.0])) == 2.0
    assert smape(np.array([100.0]), np.array([110.0])) == pytest.approx(20 / 210)


def test_smape_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one length"):
        smape(np.array([1.0, 2.0]), np.array([1.0]))


def test_every_model_is_scored_on_the_same_held_out_days() -> None:
    history = np.arange(1.0, 30.0)  # a steady rise: the last value repeated lags it
    ets, naive = backtest(history, 7, [ExponentialSmoothing(), SeasonalNaive()], 0.8)
    assert (ets.train_days, ets.test_days) == (naive.train_days, naive.test_days) == (22, 7)
    # Seasonal naive repeats days 16..22 for days 23..29: off by exactly 7 every day.
    assert naive.mae == pytest.approx(7.0)
    assert 0 <= ets.coverage_hit <= 1


def test_a_series_too_short_to_test_gives_no_score() -> None:
    assert backtest(np.array([1.0, 2.0, 3.0]), 7, [SeasonalNaive()], 0.8) == []
