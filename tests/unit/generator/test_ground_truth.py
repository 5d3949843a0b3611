"""Every injected defect and incident is where the ground truth says, and nowhere else."""

from __future__ import annotations

import pandas as pd
import pytest

from generator.defects import DEFECT_TYPES
from tests.unit.generator.conftest import Sample, binomial_band

MANDATORY = ["served_msisdn", "start_time", "network_element_id", "record_type"]


def _truth(sample: Sample, defect: str, detail: str | None = None) -> set[str]:
    rows = sample.defects[sample.defects.defect_type == defect]
    if detail is not None:
        rows = rows[rows.detail == detail]
    return set(rows.record_id)


@pytest.mark.parametrize("defect", DEFECT_TYPES)
def test_each_defect_type_appears_at_its_configured_rate(sample: Sample, defect: str) -> None:
    rate = getattr(sample.config.defects, defect)
    n = len(sample.events) - (sample.defects.defect_type == "duplicate").sum()
    low, high = binomial_band(n, rate)
    assert low <= (sample.defects.defect_type == defect).sum() <= high


def test_duplicates_are_exact_copies_listed_in_the_truth(sample: Sample) -> None:
    counts = sample.events.record_id.value_counts()
    assert set(counts[counts > 1].index) == _truth(sample, "duplicate")
    twice = sample.events[sample.events.record_id.isin(_truth(sample, "duplicate"))]
    assert len(twice.drop_duplicates()) == len(twice) / 2, "copies are identical rows"


@pytest.mark.parametrize("field", MANDATORY)
def test_missing_fields_are_exactly_the_truth(sample: Sample, field: str) -> None:
    missing = set(sample.events.loc[sample.events[field].isna(), "record_id"])
    assert missing == _truth(sample, "missing_field", field)


def test_unknown_references_are_exactly_the_truth(sample: Sample) -> None:
    events = sample.events
    unknown_cell = events.network_element_id.notna() & ~events.network_element_id.isin(
        set(sample.elements.element_id)
    )
    unknown_sub = events.served_msisdn.notna() & ~events.served_msisdn.isin(set(sample.subscribers.msisdn))
    assert set(events.loc[unknown_cell, "record_id"]) == _truth(
        sample, "unknown_reference", "network_element_id"
    )
    assert set(events.loc[unknown_sub, "record_id"]) == _truth(sample, "unknown_reference", "served_msisdn")


def test_impossible_times_are_exactly_the_truth(sample: Sample) -> None:
    events = sample.events
    window_end = pd.Timestamp(sample.config.start, tz="UTC") + pd.Timedelta(days=sample.config.days + 1)
    backwards = events.end_time < events.start_time
    future = events.start_time > window_end
    assert set(events.loc[backwards, "record_id"]) == _truth(sample, "impossible_time", "end_before_start")
    assert set(events.loc[future, "record_id"]) == _truth(sample, "impossible_time", "far_future")


def test_corrupt_values_are_exactly_the_truth(sample: Sample) -> None:
    events = sample.events
    negative = (events.duration_s < 0) | (events.bytes_down < 0) | (events.bytes_up < 0)
    assert set(events.loc[negative, "record_id"]) == _truth(sample, "corrupt_value")


def test_cell_outages_silence_the_cell_and_fail_what_remains(sample: Sample) -> None:
    outages = sample.incidents[sample.incidents.incident_type == "cell_outage"]
    assert len(outages) == sample.config.incidents.cell_outages
    events = sample.clean
    for outage in outages.itertuples():
        cell = events[events.network_element_id == outage.element_id]
        during = cell[(cell.start_time >= outage.start_time) & (cell.start_time < outage.end_time)]
        hours = (outage.end_time - outage.start_time).total_seconds() / 3600
        # The same local hours on the other days are the cell's own baseline.
        same_hours = cell[
            (cell.start_time.dt.hour >= outage.start_time.hour)
            & (cell.start_time.dt.hour < outage.start_time.hour + max(1, int(hours)))
            & (cell.start_time.dt.date != outage.start_time.date())
        ]
        baseline_per_hour = len(same_hours) / max(1, int(hours)) / (sample.config.days - 1)
        assert len(during) / hours < 0.4 * baseline_per_hour
        signalling = during[during.record_type != "data"]
        assert (signalling.result == "failed").mean() > 0.8


def test_congestion_fails_calls_with_cause_34(sample: Sample) -> None:
    congestion = sample.incidents[sample.incidents.incident_type == "congestion"]
    assert len(congestion) == sample.config.incidents.congestion_events
    voice = sample.clean[sample.clean.record_type == "voice"]
    for incident in congestion.itertuples():
        cell = voice[voice.network_element_id == incident.element_id]
        inside = (cell.start_time >= incident.start_time) & (cell.start_time < incident.end_time)
        calls = int(inside.sum())
        low, _ = binomial_band(calls, sample.config.incidents.congestion_failure, sigmas=4)
        assert cell[inside].cause_code.eq(34).sum() >= low
        assert cell[~inside].cause_code.eq(34).mean() < 0.1


def test_simbox_sims_call_many_numbers_from_one_cell_on_few_devices(sample: Sample) -> None:
    ring = sample.incidents[sample.incidents.incident_type == "simbox"]
    assert len(ring) == sample.config.incidents.simbox_sims
    calls = sample.clean[
        sample.clean.served_msisdn.isin(set(ring.msisdn)) & (sample.clean.record_type == "voice")
    ]
    per_sim_day = calls.groupby(["served_msisdn", calls.start_time.dt.date]).size()
    assert per_sim_day.median() > 100
    assert (calls.direction == "MO").all()
    assert calls.other_party.nunique() / len(calls) > 0.9
    assert calls.network_element_id.nunique() == 1
    assert calls.served_imei.nunique() <= 3
    everyone = sample.clean[sample.clean.record_type == "voice"].groupby("served_msisdn").size()
    assert everyone.median() * 20 < per_sim_day.median() * sample.config.days


def test_the_new_year_congestion_is_in_the_truth_on_every_element_it_fails(sample: Sample) -> None:
    new_year = sample.incidents[sample.incidents.incident_type == "new_year_congestion"]
    # Roamers' calls fail too: the visited networks that serve them are in the truth.
    assert set(new_year.element_id) == set(sample.elements.element_id)
    assert (sample.elements.element_type == "visited_network").any()
    zone = sample.config.time_zone
    assert set(new_year.start_time.dt.tz_convert(zone).dt.strftime("%m-%d %H:%M")) == {"12-31 23:00"}
    hours = (new_year.end_time - new_year.start_time).dt.total_seconds() / 3600
    assert set(hours) == {sample.config.new_year.hours}
    # Inside the windows calls and SMS fail with cause 34 at the configured rate; outside every
    # incident of the truth they fail only at the normal rate.
    signalling = sample.clean[sample.clean.record_type != "data"]
    start, end = new_year.start_time.iloc[0], new_year.end_time.iloc[0]
    inside = (signalling.start_time >= start) & (signalling.start_time < end)
    low, _ = binomial_band(int(inside.sum()), sample.config.new_year.congestion_failure, sigmas=4)
    assert signalling[inside].cause_code.eq(34).sum() >= low
    assert signalling[~inside].cause_code.eq(34).mean() < 0.05


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"start": "2026-03-02T00:00:00", "days": 2}, 0),
        ({"new_year": {"enabled": False}}, 0),
        ({"start": "2025-12-31T00:00:00", "days": 1}, 1),  # the window ends inside the spike
    ],
    ids=["no-new-year-in-the-window", "spike-disabled", "window-ends-at-midnight"],
)
def test_new_year_truth_follows_the_window(overrides: dict, expected: int) -> None:
    from generator.config import load_config
    from generator.incidents import plan_incidents
    from generator.reference import build_world

    config = load_config(subscribers=500, **overrides)
    incidents = [i for i in plan_incidents(config, build_world(config)) if i.kind == "new_year_congestion"]
    assert len({(i.start_us, i.end_us) for i in incidents}) == expected
    for incident in incidents:
        assert incident.end_us - incident.start_us == 3600 * 1_000_000  # cut at the window's end
