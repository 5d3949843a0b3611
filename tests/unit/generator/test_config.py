"""Config validation: a bad value names the field, the value and what is allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.exceptions import ConfigError
from generator.config import DEFAULT_CONFIG, SEGMENTS, expected_events_per_day, load_config, scale_to_rows
from generator.record_ids import RecordIds
from generator.run import Generation


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    return _edited(tmp_path, [(old, new)])


def _edited(tmp_path: Path, edits: list[tuple[str, str]]) -> Path:
    """The default config with each ``old`` text replaced (once) by its ``new`` text."""
    text = DEFAULT_CONFIG.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "variant.toml"
    path.write_text(text)
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


def test_a_night_floor_above_one_names_the_field_and_range(tmp_path: Path) -> None:
    path = _variant(tmp_path, "data = 0.12", "data = 1.5")
    with pytest.raises(ConfigError, match=r"traffic\.night_floor\.data: .*less than or equal to 1"):
        load_config(path)


def test_the_night_floor_lifts_quiet_hours_and_keeps_the_days_volume() -> None:
    builder = Generation(load_config(subscribers=100)).builder
    hourly = builder.hourly  # (curve, type, hour)
    voice, data = hourly[:, 0, :], hourly[:, 2, :]
    assert np.allclose(data.sum(axis=1), voice.sum(axis=1)), "only the spread over the hours moves"
    assert (data.min(axis=1) >= 0.11 * data.max(axis=1)).all()
    segments = voice[: len(SEGMENTS)]  # the last curve is the SIM-box ring's, busy all day
    assert (segments.min(axis=1) < 0.05 * segments.max(axis=1)).all(), "calls keep their deep night"


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


PREPAID_HOURLY = (
    "prepaid = [1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 3.5, 4.5, 5.0, 5.2, 5.0, 4.6, 4.8, 5.2, 5.6, 6.2, "
    "6.8, 7.2, 7.0, 6.0, 4.2, 2.4]"
)
ENTERPRISE_RATES = "enterprise = { voice = 14.0, sms = 2.0, data = 20.0 }\n"
ENTERPRISE_HOURLY = "enterprise = [0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.8, 3.0, 7.0, 9.0, 9.5, 9.0, 6.0, "
ENTERPRISE_WEEKDAY = "enterprise = [1.0, 1.0, 1.0, 0.95, 0.35, 0.45, 1.0]\n"
ORAN_CITIES = (
    '{ name = "Oran", lat = 35.6971, lon = -0.6308, weight = 4 },\n'
    '  { name = "Es Senia", lat = 35.6481, lon = -0.6236, weight = 1 },'
)
NO_MOBILE = ('"4G-LTE" = 0.85', '"4G-LTE" = 0')
NO_SIMBOX = ("simbox_rings = 1", "simbox_rings = 0")
SEGMENT_RATES = {"prepaid": (6.0, 4.0, 14.0), "postpaid": (9.0, 3.0, 18.0), "enterprise": (14.0, 2.0, 20.0)}


def _rates(rate: float) -> list[tuple[str, str]]:
    """Edits setting every rate of every segment to ``rate``."""
    return [
        (
            f"{segment} = {{ voice = {voice}, sms = {sms}, data = {data} }}",
            f"{segment} = {{ voice = {rate}, sms = {rate}, data = {rate} }}",
        )
        for segment, (voice, sms, data) in SEGMENT_RATES.items()
    ]


def _start(value: str) -> list[tuple[str, str]]:
    return [("start = 2025-12-29T00:00:00", f"start = {value}")]


def _case(case_id: str, edits: list[tuple[str, str]], field: str, words: str, **overrides: object) -> object:
    return pytest.param(edits, overrides, field, words, id=case_id)


# Configs that passed validation, then stopped generation with a traceback (the comment: what it
# was) or made wrong data without a word: each is refused now, naming the field and what is allowed.
REFUSED = [
    _case(  # KeyError: 'enterprise'
        "rates-miss-a-segment",
        [(ENTERPRISE_RATES, "")],
        "traffic.rates",
        "nothing for segment 'enterprise' of segment_mix",
    ),
    _case(  # KeyError: 'enterprise'
        "hourly-misses-a-segment",
        [(ENTERPRISE_HOURLY, "# " + ENTERPRISE_HOURLY)],
        "traffic.hourly",
        "needs an entry for every segment with a positive weight: prepaid, postpaid, enterprise",
    ),
    _case("weekday-misses-a-segment", [(ENTERPRISE_WEEKDAY, "")], "traffic.weekday", "'enterprise'"),
    _case(  # ValueError: Probabilities contain NaN
        "segment-mix-all-zero",
        [
            ("prepaid = 0.70", "prepaid = 0"),
            ("postpaid = 0.22", "postpaid = 0"),
            ("enterprise = 0.08", "enterprise = 0"),
        ],
        "segment_mix",
        "positive weight for at least one of prepaid, postpaid, enterprise",
    ),
    _case(  # ValueError: Probabilities contain NaN
        "service-mix-all-zero",
        [NO_MOBILE, ("FTTH = 0.08", "FTTH = 0"), ("ADSL = 0.07", "ADSL = 0")],
        "service_mix",
        "positive weight for at least one of 4G-LTE, FTTH, ADSL",
    ),
    _case(  # ValueError: Probabilities contain NaN
        "city-weights-all-zero",
        [(ORAN_CITIES, ORAN_CITIES.replace("weight = 4", "weight = 0").replace("weight = 1", "weight = 0"))],
        "regions.1.cities",
        "city weights must have a positive sum",
    ),
    _case(
        "region-population-zero",
        [("population = 3415000", "population = 0")],
        "regions.0.population",
        "greater than 0",
    ),
    _case(  # AttributeError: Invalid configuration for faker locale `xx_YY`
        "unknown-names-locale",
        [('names_locale = "fr_DZ"', 'names_locale = "xx_YY"')],
        "names_locale",
        "unknown Faker locale; available: am_ET, ar_AA",
    ),
    _case(
        "work-hours-out-of-day",
        [("work_hours = [9, 17]", "work_hours = [30, -5]")],
        "traffic.work_hours",
        "[start, end] local hours with 0 <= start < end <= 24",
    ),
    _case(
        "work-hours-reversed",
        [("work_hours = [9, 17]", "work_hours = [17, 9]")],
        "traffic.work_hours",
        "start < end",
    ),
    _case(
        "weekend-day-out-of-week",
        [("work_hours = [9, 17]", "work_hours = [9, 17]\nweekend_days = [7]")],
        "traffic.weekend_days.0",
        "less than or equal to 6",
    ),
    _case(
        "weekend-day-repeated",
        [("work_hours = [9, 17]", "work_hours = [9, 17]\nweekend_days = [4, 4]")],
        "traffic.weekend_days",
        "must be unique; repeated: '4'",
    ),
    _case(
        "hourly-all-zero",
        [(PREPAID_HOURLY, "prepaid = [" + "0, " * 23 + "0]")],
        "traffic.hourly",
        "positive sum",
    ),
    _case(
        "weekday-too-short",
        [("prepaid = [1.0, 1.0, 1.0, 1.0, 0.95", "prepaid = [0.95")],
        "traffic.weekday",
        "needs 7",
    ),
    _case(
        "negative-rate",
        [("prepaid = { voice = 6.0", "prepaid = { voice = -6.0")],
        "traffic.rates.prepaid.voice",
        "greater than or equal to 0",
    ),
    _case(  # ZeroDivisionError with --rows
        "all-rates-zero",
        [
            *_rates(0.0),
            (
                "fixed_rates = { voice = 3.0, sms = 0.0, data = 6.0 }",
                "fixed_rates = {voice = 0.0, sms = 0.0, data = 0.0}",
            ),
        ],
        "traffic.rates",
        "makes no events",
    ),
    _case(
        "plan-of-unknown-segment",
        [('segment = "enterprise"\nservice = "ADSL"', 'segment = "business"\nservice = "ADSL"')],
        "tariff_plans.8.segment",
        "'prepaid', 'postpaid' or 'enterprise'",
    ),
    _case(
        "duplicate-region-code", [('code = "ORN"', 'code = "ALG"')], "regions", "region codes must be unique"
    ),
    _case(
        "duplicate-area-code",
        [('fixed_area_code = "41"', 'fixed_area_code = "23"')],
        "regions",
        "fixed area codes",
    ),
    _case(
        "duplicate-plan-id",
        [('plan_id = "POST-MOB"', 'plan_id = "PRE-MOB"')],
        "tariff_plans",
        "plan ids must be unique; repeated: 'PRE-MOB'",
    ),
    _case(  # ValueError: high - low < 0
        "outage-hours-reversed",
        [("outage_hours = [1.5, 4.0]", "outage_hours = [4.0, -1.5]")],
        "incidents.outage_hours",
        "0 < shortest <= longest <= 24",
    ),
    _case(
        "congestion-hours-zero",
        [("congestion_hours = [1.0, 3.0]", "congestion_hours = [0, 0]")],
        "incidents.congestion_hours",
        "0 < shortest",
    ),
    _case(  # ValueError: Cannot take a larger sample than population when replace is False
        "more-simbox-sims-than-lines",
        [("simbox_sims = 12", "simbox_sims = 1000"), ("simbox_rings = 1", "simbox_rings = 100")],
        "incidents.simbox_rings",
        "set incidents.simbox_rings = 0",
    ),
    _case(  # ValueError: a cannot be empty unless no samples are taken
        "simbox-without-prepaid",
        [("prepaid = 0.70", "prepaid = 0")],
        "incidents.simbox_rings",
        "need 12 active prepaid mobile lines",
    ),
    _case(  # ValueError: Cannot take a larger sample than population (`--subscribers 10`)
        "simbox-with-the-fewest-subscribers", [], "incidents.simbox_rings", "give about 6", subscribers=10
    ),
    _case(  # ValueError: Cannot take a larger sample than population (fixed numbers)
        "more-fixed-lines-than-numbers",
        [NO_MOBILE, NO_SIMBOX],
        "subscribers",
        "more than the 1,000,000 local numbers of its area code",
        subscribers=4_000_000,
    ),
    _case(  # ValueError: more than 10^7 events in one unit: lower the subscriber shard size
        "more-events-than-record-ids",
        _rates(900.0),
        "traffic.rates",
        "more than the 10,000,000 record ids of a unit",
        subscribers=5000,
    ),
    _case(  # OverflowError: date value out of range
        "start-past-year-9999",
        _start("9999-12-30T00:00:00"),
        "start",
        "must be from 1900-01-01 to 2999-12-31",
    ),
    _case(
        "start-in-year-1", _start("0001-01-01T00:00:00"), "start", "from 1900-01-01"
    ),  # year 0 is out of range
    _case("start-not-midnight", _start("2025-12-29T13:30:00"), "start", "must be a local midnight"),
    _case(
        "mobile-prefix-not-digits",
        [('mobile_prefixes = ["5", "6", "7"]', 'mobile_prefixes = [""]')],
        "network.mobile_prefixes.0",
        "should match pattern",
    ),
]
# Through the CLI: some that crashed, and one whose message holds brackets (text, not markup).
THROUGH_THE_CLI = {
    "rates-miss-a-segment",
    "segment-mix-all-zero",
    "unknown-names-locale",
    "outage-hours-reversed",
    "work-hours-out-of-day",
}


@pytest.mark.parametrize(("edits", "overrides", "field", "words"), REFUSED)
def test_a_config_generation_cannot_run_is_refused_naming_the_field(
    tmp_path: Path, edits: list[tuple[str, str]], overrides: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_edited(tmp_path, edits), **overrides)
    message = str(caught.value)
    assert f"\n  {field}: " in message, message
    assert words in message, message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("edits", "overrides", "field", "words"), [case for case in REFUSED if case.id in THROUGH_THE_CLI]
)
def test_cli_exits_2_without_traceback_on_a_config_that_used_to_crash(
    tmp_path: Path, edits: list[tuple[str, str]], overrides: dict[str, object], field: str, words: str
) -> None:
    lakehouse = Path(sys.executable).with_name("lakehouse")
    config, output = _edited(tmp_path, edits), tmp_path / "out"
    result = subprocess.run(
        [str(lakehouse), "generate", "--to", "parquet", "--config", str(config), "--output", str(output)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"  {field}: " in result.stderr and words in result.stderr, result.stderr
    assert not output.exists()


def test_a_segment_nobody_is_in_needs_no_traffic_entries(tmp_path: Path) -> None:
    unused = [(ENTERPRISE_RATES, ""), (ENTERPRISE_WEEKDAY, ""), (ENTERPRISE_HOURLY, "# " + ENTERPRISE_HOURLY)]
    path = _edited(tmp_path, [("enterprise = 0.08", "enterprise = 0"), *unused])
    generation = Generation(load_config(path, days=1, subscribers=500))
    rows = sum(batch.num_rows for batch, _ in generation.batches())
    assert rows > 1000
    assert set(generation.world.subscribers.column("segment").to_pylist()) == {"prepaid", "postpaid"}


def test_a_fixed_only_operator_without_sim_boxes_generates(tmp_path: Path) -> None:
    path = _edited(tmp_path, [NO_MOBILE, NO_SIMBOX])
    generation = Generation(load_config(path, days=1, subscribers=500))
    assert sum(batch.num_rows for batch, _ in generation.batches()) > 100


def test_faker_spellings_of_a_locale_are_accepted() -> None:
    assert load_config(names_locale="fr-DZ").names_locale == "fr-DZ"
    assert load_config(names_locale="en").names_locale == "en"


def test_too_many_rows_for_the_rates_is_a_config_error() -> None:
    # Was a pydantic ValidationError traceback: a scaled rate over 1000 failed outside validation.
    config = load_config(subscribers=1000, days=1)
    with pytest.raises(ConfigError, match=r"scaled by --rows\):\n  traffic\.rates\.prepaid\.voice: .*1000"):
        scale_to_rows(config, 100_000_000)


def test_record_ids_past_their_digits_are_a_config_error_not_a_crash() -> None:
    ids = RecordIds("abcd1234")
    assert ids.build(3, 2, np.array([0, 9_999_999])).to_pylist()[1] == "abcd1234-003000029999999"
    with pytest.raises(ConfigError, match="day 3 of subscriber shard 2 makes 10,000,001 events"):
        ids.build(3, 2, np.array([10_000_000]))
