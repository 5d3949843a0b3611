"""Config validation: a bad value names the field, the value and what is allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.exceptions import ConfigError
from generator.config import DEFAULT_CONFIG, expected_events_per_day, load_config, scale_to_rows


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_CONFIG.read_text()
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_default_config_describes_eight_regions_with_a_plan_for_every_mix() -> None:
    config = load_config()
    assert len(config.regions) == 8
    assert config.currency == "DZD"


def test_out_of_range_value_names_field_and_range() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(subscribers=5)
    assert "subscribers" in str(caught.value)
    assert "greater than or equal to 10" in str(caught.value)
    assert caught.value.exit_code == 2


def test_outcomes_must_sum_to_one(tmp_path: Path) -> None:
    path = _variant(tmp_path, "answered = 0.855", "answered = 0.9")
    with pytest.raises(ConfigError, match=r"traffic\.voice_outcomes: .*must sum to 1"):
        load_config(path)


def test_hourly_curve_needs_24_hours(tmp_path: Path) -> None:
    path = _variant(tmp_path, "prepaid = [1.2, 0.6,", "prepaid = [0.6,")
    with pytest.raises(ConfigError, match=r"traffic\.hourly: .*24 non-negative weights"):
        load_config(path)


def test_unknown_field_is_rejected_by_name(tmp_path: Path) -> None:
    path = _variant(tmp_path, "days = 4", "days = 4\nsubscriber_count = 9")
    with pytest.raises(ConfigError, match="subscriber_count"):
        load_config(path)


def test_a_segment_without_a_tariff_plan_is_named(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, 'name = "ADSL Pro"\nsegment = "enterprise"', 'name = "ADSL Pro"\nsegment = "postpaid"'
    )
    with pytest.raises(ConfigError, match="no tariff plan for segment 'enterprise' with service 'ADSL'"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_rows_scales_expected_volume() -> None:
    config = load_config(subscribers=1000, days=2)
    scaled = scale_to_rows(config, 200_000)
    assert expected_events_per_day(scaled) * scaled.days == pytest.approx(200_000, rel=1e-6)


def test_cli_rejects_bad_values_with_exit_2_and_no_traceback() -> None:
    lakehouse = Path(sys.executable).with_name("lakehouse")
    result = subprocess.run(
        [str(lakehouse), "generate", "--to", "parquet", "--days", "0"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 2
    assert "days" in result.stderr and "greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr
