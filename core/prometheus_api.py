"""Prometheus' HTTP query API (``/api/v1/query``, ``/api/v1/query_range``), as the ops page reads it.

Two calls and two result types, no more: the page asks for instant values (the headline
numbers, service health) and for ranges (the charts). A Prometheus that cannot be reached is a
:class:`ServiceUnavailableError` naming its address; a query Prometheus rejects is a
:class:`LakehouseError` carrying Prometheus' own reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import requests

from core.exceptions import LakehouseError, ServiceUnavailableError
from core.settings import LakehouseSettings

# Prometheus refuses a range of more than 11,000 points per series.
MAX_POINTS = 11_000


@dataclass(frozen=True)
class Series:
    """One series of an instant query: its labels and its value now."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class RangeSeries:
    """One series of a range query: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def _get(settings: LakehouseSettings, path: str, params: dict[str, str], timeout: float) -> object:
    url = f"{settings.monitoring.prometheus.url}{path}"
    try:
        response = requests.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailableError(
            f"Prometheus at {settings.monitoring.prometheus.url} did not answer ({type(exc).__name__}); "
            "`make up` starts it"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or body.get("status") != "success":
        reason = body.get("error") or f"HTTP {response.status_code}"
        raise LakehouseError(f"Prometheus refused the query {params.get('query')!r}: {reason}")
    return body["data"]


def _number(text: str) -> float:
    return float(text)  # Prometheus writes NaN and +Inf as strings float() reads


def query(settings: LakehouseSettings, promql: str, timeout: float = 5) -> list[Series]:
    """``promql``'s instant vector now (a scalar result becomes one unlabelled series)."""
    data = _get(settings, "/api/v1/query", {"query": promql}, timeout)
    assert isinstance(data, dict)
    if data["resultType"] == "scalar":
        return [Series({}, _number(data["result"][1]))]
    return [Series(dict(r["metric"]), _number(r["value"][1])) for r in data["result"]]


def query_range(
    settings: LakehouseSettings,
    promql: str,
    seconds: float,
    step: float,
    end: float | None = None,
    timeout: float = 10,
) -> list[RangeSeries]:
    """``promql`` over the ``seconds`` before ``end`` (now by default), one point per ``step``
    seconds (widened so the range stays under Prometheus' point limit); NaN points are dropped.
    Queries given the same ``end`` and ``step`` are evaluated at the same instants, so their
    points can be joined on time."""
    if seconds <= 0 or step <= 0:
        raise ValueError(f"seconds and step must be greater than 0; got {seconds!r}, {step!r}")
    step = max(step, seconds / (MAX_POINTS - 1))
    end = time.time() if end is None else end
    params = {"query": promql, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    data = _get(settings, "/api/v1/query_range", params, timeout)
    assert isinstance(data, dict)
    result: list[RangeSeries] = []
    for r in data["result"]:
        points = [(float(t), _number(v)) for t, v in r["values"]]
        result.append(RangeSeries(dict(r["metric"]), [(t, v) for t, v in points if not math.isnan(v)]))
    return result
