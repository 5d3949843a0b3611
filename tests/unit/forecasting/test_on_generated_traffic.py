"""On weeks of the generator's own traffic, ETS forecasts better than its seasonal-naive baseline.

The same comparison as `make bench` (bench.forecast_bench), smaller: 5 weeks, one seed the
models were not tuned on, every region's call attempts, SMS and data volume.
"""

from __future__ import annotations

import pandas as pd
import pytest

from bench.forecast_bench import START, region_days
from forecasting.series import forecast_series
from generator.config import load_config


@pytest.fixture(scope="module")
def backtests() -> pd.DataFrame:
    history = region_days(load_config(subscribers=2000, days=35, seed=17, start=START))
    assert history.groupby(["region_code", "metric"]).local_date.count().eq(35).all()
    _, scores = forecast_series(history, ["region_code", "metric"])
    return scores


@pytest.mark.parametrize("metric", ["call_attempts", "sms_count", "data_mb"])
def test_ets_beats_the_seasonal_naive_baseline_on_every_metric(backtests: pd.DataFrame, metric: str) -> None:
    scores = backtests[backtests.metric == metric].groupby("method").smape.mean()
    assert set(scores.index) == {"ets", "seasonal_naive"}, "every series fitted, none fell back"
    assert scores["ets"] < scores["seasonal_naive"], scores


def test_the_80_percent_intervals_hold_most_held_out_days(backtests: pd.DataFrame) -> None:
    ets = backtests[backtests.method == "ets"]
    assert (ets.test_days == 7).all() and (ets.train_days == 28).all()
    assert 0.6 <= ets.coverage_hit.mean() <= 0.98
