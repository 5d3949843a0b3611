"""Forecast error on weeks of generated traffic: ETS beside its seasonal-naive baseline.

The pipeline's default data set is 4 days, too short to judge a weekly model, so this generates
``days`` in memory (no services) for several seeds, sums each region's days as the marts do
(call attempts, SMS, data MB on the serving cell's region and local day), and backtests both
methods on the last 7 days with the pipeline's own code (``forecasting.series``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from forecasting.series import forecast_series
from generator.config import GeneratorConfig, load_config
from generator.run import Generation

START = datetime(2026, 2, 2)  # a Monday, far from New Year's spike
METRICS = ("call_attempts", "sms_count", "data_mb")


def region_days(config: GeneratorConfig) -> pd.DataFrame:
    """(region_code, metric, local_date, value) of a generation, computed in memory."""
    generation = Generation(config)
    elements = generation.world.network_elements.to_pandas().set_index("element_id").region_code
    parts = []
    for batch, _ in generation.batches():
        events = batch.select(["record_type", "start_time", "network_element_id", "bytes_up", "bytes_down"])
        frame = events.to_pandas()
        frame = frame[frame.start_time.notna()]
        frame["region_code"] = frame.network_element_id.astype(str).map(elements)
        frame["local_date"] = frame.start_time.dt.tz_convert(config.time_zone).dt.date
        frame["mb"] = (frame.bytes_up.fillna(0) + frame.bytes_down.fillna(0)) / 1e6
        grouped = frame.groupby(["region_code", "local_date", frame.record_type.astype(str)], observed=True)
        parts.append(grouped.agg(events=("mb", "size"), mb=("mb", "sum")).reset_index())
    days = pd.concat(parts).groupby(["region_code", "local_date", "record_type"]).sum().reset_index()
    long = pd.concat(
        [
            days[days.record_type == "voice"].assign(metric="call_attempts", value=lambda d: d.events),
            days[days.record_type == "sms"].assign(metric="sms_count", value=lambda d: d.events),
            days[days.record_type == "data"].assign(metric="data_mb", value=lambda d: d.mb),
        ]
    )
    # Only the window's local days (a defective time may fall outside them).
    first = config.start.date()
    last = (pd.Timestamp(config.start) + pd.Timedelta(days=config.days - 1)).date()
    long = long[(long.local_date >= first) & (long.local_date <= last)]
    return long[["region_code", "metric", "local_date", "value"]].astype({"value": float})


@dataclass
class ForecastBenchResult:
    days: int
    subscribers: int
    seeds: list[int]
    # metric -> method -> mean sMAPE per seed (over the regions)
    smape: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # forecast + backtest of all series, per seed
    series: int = 0


def run(days: int = 42, subscribers: int = 5000, seeds: tuple[int, ...] = (1, 2, 3)) -> ForecastBenchResult:
    result = ForecastBenchResult(days, subscribers, list(seeds))
    for seed in seeds:
        config = load_config(subscribers=subscribers, days=days, seed=seed, start=START)
        history = region_days(config)
        began = time.perf_counter()
        _, backtests = forecast_series(history, ["region_code", "metric"])
        result.seconds.append(time.perf_counter() - began)
        result.series = history.groupby(["region_code", "metric"]).ngroups
        for (metric, method), scores in backtests.groupby(["metric", "method"]):
            result.smape.setdefault(str(metric), {}).setdefault(str(method), []).append(
                float(scores.smape.mean())
            )
    return result


def _spread(values: list[float]) -> str:
    return f"{min(values):.2%} / {float(np.median(values)):.2%} / {max(values):.2%}"


def report(r: ForecastBenchResult) -> list[str]:
    lines = [
        "## Forecasts: ETS against the seasonal-naive baseline",
        "",
        f"{r.days} generated days, {r.subscribers:,} subscribers, seeds {', '.join(map(str, r.seeds))}; "
        f"{r.series} region series per seed; the last 7 days held out. sMAPE, min / median / max over "
        "the seeds (each the mean over the regions). Target: ETS below the baseline.",
        "",
        "| metric | ETS | seasonal naive | ETS better |",
        "|---|---:|---:|---|",
    ]
    for metric in METRICS:
        methods = r.smape.get(metric, {})
        ets, naive = methods.get("ets", []), methods.get("seasonal_naive", [])
        if not ets or not naive:
            lines.append(f"| {metric} | — | — | not measured |")
            continue
        better = sum(e < n for e, n in zip(ets, naive, strict=True))
        verdict = "met" if better == len(ets) else f"NOT met ({better} of {len(ets)} seeds)"
        lines.append(f"| {metric} | {_spread(ets)} | {_spread(naive)} | {verdict} |")
    lines += [
        "",
        f"Forecast and backtest of every series (both methods): {_spread_seconds(r.seconds)} per seed.",
        "",
    ]
    return lines


def _spread_seconds(values: list[float]) -> str:
    return f"{min(values):.2f} / {float(np.median(values)):.2f} / {max(values):.2f} s"
