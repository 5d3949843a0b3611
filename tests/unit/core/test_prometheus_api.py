"""The Prometheus client's errors without a Prometheus: a closed port names the address."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import prometheus_api
from core.exceptions import ServiceUnavailableError
from core.settings import load_settings
from infra.process import free_port


def test_a_prometheus_that_does_not_answer_is_named_with_its_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_MONITORING__PROMETHEUS__PORT", str(free_port()))
    settings = load_settings(env_file=None)
    with pytest.raises(ServiceUnavailableError, match=rf"{settings.monitoring.prometheus.url}.*make up"):
        prometheus_api.query(settings, "up")
    with pytest.raises(ServiceUnavailableError):
        prometheus_api.query_range(settings, "up", 60, 5)


@pytest.mark.parametrize(("seconds", "step"), [(0, 5), (60, 0), (-1, 5)])
def test_a_range_needs_a_positive_length_and_step(seconds: float, step: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        prometheus_api.query_range(load_settings(env_file=None, home=tmp_path), "up", seconds, step)
