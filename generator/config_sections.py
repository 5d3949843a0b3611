"""The sections of a generator config (geography, plans, traffic, incidents, defects, network),
each validated on its own; :mod:`generator.config` holds the whole config and the checks across
sections.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]
Segment = Literal["prepaid", "postpaid", "enterprise"]
Service = Literal["4G-LTE", "FTTH", "ADSL"]
SEGMENTS: tuple[Segment, ...] = ("prepaid", "postpaid", "enterprise")
SERVICES: tuple[Service, ...] = ("4G-LTE", "FTTH", "ADSL")


class StrictSection(BaseModel):
    """Unknown keys are errors (a typo is named, not ignored); values cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class City(StrictSection):
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    weight: Weight = 1.0


class Region(StrictSection):
    code: str = Field(pattern=r"^[A-Z0-9]{2,8}$")
    name: str
    population: int = Field(gt=0)
    fixed_area_code: str = Field(pattern=r"^\d{2,3}$")
    cities: list[City] = Field(min_length=1)

    @field_validator("cities")
    @classmethod
    def _weighted(cls, value: list[City]) -> list[City]:
        if sum(city.weight for city in value) <= 0:
            raise ValueError("city weights must have a positive sum; every weight is 0")
        return value


def require_unique(values: list[str], what: str) -> None:
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(map(repr, repeated))}")


class TariffPlan(StrictSection):
    plan_id: str
    name: str
    segment: Segment
    service: Service
    monthly_fee: float = Field(ge=0)
    price_per_minute: float = Field(ge=0)
    price_per_sms: float = Field(ge=0)
    price_per_mb: float = Field(ge=0)


class TrafficRates(StrictSection):
    """Mean events per subscriber per day, by record type."""

    voice: float = Field(ge=0, le=1000)
    sms: float = Field(ge=0, le=1000)
    data: float = Field(ge=0, le=1000)


class NightFloor(StrictSection):
    """The least share of its segment's busy hour each record type keeps in any hour.

    Phones and home routers sync, update and stream through the night, so data sessions never
    fall as low as calls: published mobile data profiles put the night trough at 9-16% of the
    busy hour (Laner et al. 2012, Feknous et al. 2014, Xu et al. 2017 as digitised by
    Aleksiejunas, Wireless Pers. Commun. 2023, doi:10.1007/s11277-023-10816-3), where calls fall
    to 1-2% (Telecom Italia's Milan CDRs, Barlacchi et al., Sci. Data 2015). A floor lifts the
    quiet hours; the day's volume stays the configured rate.
    """

    voice: Probability = 0.0
    sms: Probability = 0.0
    data: Probability = 0.0


class Traffic(StrictSection):
    """Per-segment daily rates, curves and call outcomes."""

    rates: dict[Segment, TrafficRates]
    fixed_rates: TrafficRates
    # Local-time hourly shape per segment (24 relative weights) and weekday factors (Mon..Sun).
    hourly: dict[Segment, list[Weight]]
    weekday: dict[Segment, list[Weight]]
    night_floor: NightFloor = NightFloor()
    activity_sigma: float = Field(0.8, ge=0, le=3, description="Lognormal spread of per-user activity")
    voice_duration_median_s: float = Field(60.0, gt=0, le=3600)
    voice_duration_sigma: float = Field(1.1, gt=0, le=3)
    data_duration_median_s: float = Field(600.0, gt=0, le=86400)
    data_mb_median: float = Field(8.0, gt=0, le=100_000)
    mo_share: Probability = 0.55
    external_party_share: Probability = 0.2
    roaming_share: Probability = 0.01
    contacts_median: float = Field(8.0, ge=1, le=500)
    # Outcome of voice attempts: answered/busy/no_answer/failed/dropped (must sum to 1).
    voice_outcomes: dict[Literal["answered", "busy", "no_answer", "failed", "dropped"], Probability]
    sms_failure: Probability = 0.02
    data_failure: Probability = 0.01
    work_hours: tuple[int, int] = Field((9, 17), description="[start, end) local hours, 0..24")
    weekend_days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [4, 5], max_length=7, description="0=Monday; DZ: Fri, Sat"
    )
    work_cell_share: Probability = 0.8
    roam_cell_share: Probability = 0.1

    @field_validator("hourly")
    @classmethod
    def _hours(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for segment, weights in value.items():
            if len(weights) != 24 or sum(weights) <= 0:
                raise ValueError(f"{segment}: needs 24 non-negative weights with a positive sum")
        return value

    @field_validator("work_hours")
    @classmethod
    def _work_hours(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= value[0] < value[1] <= 24:
            raise ValueError("needs [start, end] local hours with 0 <= start < end <= 24, e.g. [9, 17]")
        return value

    @field_validator("weekend_days")
    @classmethod
    def _weekend(cls, value: list[int]) -> list[int]:
        require_unique([str(day) for day in value], "weekend days (0=Monday .. 6=Sunday)")
        return value

    @field_validator("weekday")
    @classmethod
    def _days(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for segment, weights in value.items():
            if len(weights) != 7:
                raise ValueError(f"{segment}: needs 7 weights, Monday first")
        return value

    @field_validator("voice_outcomes")
    @classmethod
    def _outcomes(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"answered", "busy", "no_answer", "failed", "dropped"}:
            raise ValueError("needs answered, busy, no_answer, failed and dropped")
        if abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError(f"must sum to 1, got {sum(value.values()):.4f}")
        return value


class NewYear(StrictSection):
    """The midnight spike of New Year's Eve, local time, when the window covers it."""

    enabled: bool = True
    sms_multiplier: float = Field(15.0, ge=1, le=100)
    voice_multiplier: float = Field(5.0, ge=1, le=100)
    congestion_failure: Probability = 0.25
    hours: int = Field(2, ge=1, le=6, description="Hours of spike from 23:00 on Dec 31")


class Incidents(StrictSection):
    cell_outages: int = Field(3, ge=0, le=1000)
    outage_hours: tuple[float, float] = (1.0, 4.0)
    congestion_events: int = Field(3, ge=0, le=1000)
    congestion_hours: tuple[float, float] = (1.0, 3.0)
    congestion_failure: Probability = 0.35
    simbox_rings: int = Field(1, ge=0, le=100)
    simbox_sims: int = Field(12, ge=1, le=1000)
    simbox_calls_per_day: float = Field(180.0, ge=1, le=5000)

    @field_validator("outage_hours", "congestion_hours")
    @classmethod
    def _hours(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1] <= 24:
            raise ValueError("needs [shortest, longest] hours with 0 < shortest <= longest <= 24")
        return value


class Defects(StrictSection):
    """Share of rows made defective, per defect type (default about 1% in all)."""

    duplicate: Probability = 0.003
    missing_field: Probability = 0.002
    unknown_reference: Probability = 0.002
    impossible_time: Probability = 0.0015
    corrupt_value: Probability = 0.0015

    @model_validator(mode="after")
    def _total(self) -> Defects:
        if sum(self.model_dump().values()) > 0.5:
            raise ValueError("defect rates must sum to at most 0.5")
        return self


class Network(StrictSection):
    mobile_subscribers_per_cell: int = Field(250, ge=10, le=100_000)
    cells_per_site: int = Field(3, ge=1, le=6)
    fixed_subscribers_per_node: int = Field(400, ge=10, le=100_000)
    mcc: str = Field("603", pattern=r"^\d{3}$")
    mnc: str = Field("01", pattern=r"^\d{2,3}$")
    country_code: str = Field("213", pattern=r"^\d{1,3}$")
    mobile_prefixes: list[Annotated[str, Field(pattern=r"^\d{1,3}$")]] = Field(
        default_factory=lambda: ["5", "6", "7"], min_length=1
    )
