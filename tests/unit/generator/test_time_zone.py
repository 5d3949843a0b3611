"""The network's time zone comes from settings: the same local day, shifted to UTC by the zone."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.exceptions import ConfigError
from core.settings import load_settings
from generator.config import load_config
from generator.run import Generation

HOUR_US = 3_600_000_000


def _start_times(time_zone: str) -> pa.ChunkedArray:
    config = load_config(days=1, subscribers=500, seed=3, time_zone=time_zone)
    events = pa.Table.from_batches([batch for batch, _ in Generation(config).batches()])
    return events.column("start_time").cast(pa.int64())


def test_the_same_local_day_lands_one_hour_earlier_in_utc_on_algiers_time() -> None:
    utc, algiers = _start_times("UTC"), _start_times("Africa/Algiers")
    assert len(utc) == len(algiers) > 1_000
    # Far-future defects move by a fixed offset too, so every non-null row differs by exactly 1 h.
    shift = pc.subtract(utc, algiers).drop_null()
    assert pc.min(shift).as_py() == pc.max(shift).as_py() == HOUR_US


def test_the_settings_zone_is_the_default_of_a_generator_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config().time_zone == load_settings(env_file=None).time_zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+1", ""])
def test_an_unknown_zone_names_the_field(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="time_zone"):
        load_config(time_zone=zone)
    monkeypatch.setenv("LAKEHOUSE_TIME_ZONE", zone)
    with pytest.raises(ConfigError, match="LAKEHOUSE_TIME_ZONE"):
        load_settings(env_file=None)
