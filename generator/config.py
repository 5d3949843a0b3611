"""What the generator makes: geography, subscriber mix, traffic, incidents and defects.

Loaded from a TOML file (default: ``generator/configs/algeria.toml``) and validated; an invalid
value stops with the field, the value and the allowed range (:class:`ConfigError`, exit 2).
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.exceptions import ConfigError
from core.settings import DEFAULT_TIME_ZONE, TimeZoneName

DEFAULT_CONFIG = Path(__file__).with_name("configs") / "algeria.toml"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]
Segment = Literal["prepaid", "postpaid", "enterprise"]
Service = Literal["4G-LTE", "FTTH", "ADSL"]
SEGMENTS: tuple[Segment, ...] = ("prepaid", "postpaid", "enterprise")
SERVICES: tuple[Service, ...] = ("4G-LTE", "FTTH", "ADSL")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class City(_Strict):
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    weight: Weight = 1.0


class Region(_Strict):
    code: str = Field(pattern=r"^[A-Z0-9]{2,8}$")
    name: str
    population: int = Field(gt=0)
    fixed_area_code: str = Field(pattern=r"^\d{2,3}$")
    cities: list[City] = Field(min_length=1)


class TariffPlan(_Strict):
    plan_id: str
    name: str
    segment: Segment
    service: Service
    monthly_fee: float = Field(ge=0)
    price_per_minute: float = Field(ge=0)
    price_per_sms: float = Field(ge=0)
    price_per_mb: float = Field(ge=0)


class TrafficRates(_Strict):
    """Mean events per subscriber per day, by record type."""

    voice: float = Field(ge=0, le=1000)
    sms: float = Field(ge=0, le=1000)
    data: float = Field(ge=0, le=1000)


class Traffic(_Strict):
    """Per-segment daily rates, curves and call outcomes."""

    rates: dict[Segment, TrafficRates]
    fixed_rates: TrafficRates
    # Local-time hourly shape per segment (24 relative weights) and weekday factors (Mon..Sun).
    hourly: dict[Segment, list[Weight]]
    weekday: dict[Segment, list[Weight]]
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
    work_hours: tuple[int, int] = (9, 17)
    weekend_days: list[int] = Field(default_factory=lambda: [4, 5], description="0=Monday; DZ: Fri, Sat")
    work_cell_share: Probability = 0.8
    roam_cell_share: Probability = 0.1

    @field_validator("hourly")
    @classmethod
    def _hours(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for segment, weights in value.items():
            if len(weights) != 24 or sum(weights) <= 0:
                raise ValueError(f"{segment}: needs 24 non-negative weights with a positive sum")
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


class NewYear(_Strict):
    """The midnight spike of New Year's Eve, local time, when the window covers it."""

    enabled: bool = True
    sms_multiplier: float = Field(15.0, ge=1, le=100)
    voice_multiplier: float = Field(5.0, ge=1, le=100)
    congestion_failure: Probability = 0.25
    hours: int = Field(2, ge=1, le=6, description="Hours of spike from 23:00 on Dec 31")


class Incidents(_Strict):
    cell_outages: int = Field(3, ge=0, le=1000)
    outage_hours: tuple[float, float] = (1.0, 4.0)
    congestion_events: int = Field(3, ge=0, le=1000)
    congestion_hours: tuple[float, float] = (1.0, 3.0)
    congestion_failure: Probability = 0.35
    simbox_rings: int = Field(1, ge=0, le=100)
    simbox_sims: int = Field(12, ge=1, le=1000)
    simbox_calls_per_day: float = Field(180.0, ge=1, le=5000)


class Defects(_Strict):
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


class Network(_Strict):
    mobile_subscribers_per_cell: int = Field(250, ge=10, le=100_000)
    cells_per_site: int = Field(3, ge=1, le=6)
    fixed_subscribers_per_node: int = Field(400, ge=10, le=100_000)
    mcc: str = Field("603", pattern=r"^\d{3}$")
    mnc: str = Field("01", pattern=r"^\d{2,3}$")
    country_code: str = Field("213", pattern=r"^\d{1,3}$")
    mobile_prefixes: list[str] = Field(default_factory=lambda: ["5", "6", "7"], min_length=1)


class GeneratorConfig(_Strict):
    """Everything one generation run needs."""

    seed: int = Field(42, ge=0, le=2**63 - 1)
    # Not in the country files: the platform's one time zone setting (LAKEHOUSE_TIME_ZONE) is
    # passed in, so generated local hours and the local days of the KPIs always agree.
    time_zone: TimeZoneName = DEFAULT_TIME_ZONE
    start: datetime = datetime(2025, 12, 29)
    days: int = Field(4, ge=1, le=366)
    subscribers: int = Field(20_000, ge=10, le=50_000_000)
    currency: str = Field("DZD", pattern=r"^[A-Z]{3}$")
    names_locale: str = Field("fr_DZ", description="Faker locale for subscriber names")
    segment_mix: dict[Segment, Weight]
    service_mix: dict[Service, Weight]
    regions: list[Region] = Field(min_length=1)
    tariff_plans: list[TariffPlan] = Field(min_length=1)
    traffic: Traffic
    new_year: NewYear = NewYear()
    incidents: Incidents = Incidents()
    defects: Defects = Defects()
    network: Network = Network()

    @model_validator(mode="after")
    def _plans_cover_the_mix(self) -> GeneratorConfig:
        offered = {(p.segment, p.service) for p in self.tariff_plans}
        for segment in (s for s, w in self.segment_mix.items() if w > 0):
            for service in (s for s, w in self.service_mix.items() if w > 0):
                if (segment, service) not in offered:
                    raise ValueError(f"no tariff plan for segment {segment!r} with service {service!r}")
        return self

    @field_validator("start")
    @classmethod
    def _naive_local(cls, value: datetime) -> datetime:
        # The window is in the network's local time (time_zone).
        return value.replace(tzinfo=None)


def expected_events_per_day(config: GeneratorConfig) -> float:
    """Mean events per day of a config, from its mixes and rates (before incidents/defects)."""
    t, mix = config.traffic, config.service_mix
    mobile_share = mix.get("4G-LTE", 0) / sum(mix.values())
    seg_total = sum(config.segment_mix.values())
    mobile = sum(
        w / seg_total * (t.rates[s].voice + t.rates[s].sms + t.rates[s].data)
        for s, w in config.segment_mix.items()
    )
    fixed = t.fixed_rates.voice + t.fixed_rates.sms + t.fixed_rates.data
    return config.subscribers * 0.97 * (mobile_share * mobile + (1 - mobile_share) * fixed)


def scale_to_rows(config: GeneratorConfig, rows: int) -> GeneratorConfig:
    """The config with traffic rates scaled so that it makes about ``rows`` events in total."""
    if rows < 1:
        raise ConfigError(f"--rows must be at least 1; got {rows}")
    factor = rows / (expected_events_per_day(config) * config.days)
    t = config.traffic

    def scaled(r: TrafficRates) -> TrafficRates:
        return TrafficRates(voice=r.voice * factor, sms=r.sms * factor, data=r.data * factor)

    traffic = t.model_copy(
        update={"rates": {s: scaled(r) for s, r in t.rates.items()}, "fixed_rates": scaled(t.fixed_rates)}
    )
    try:
        return GeneratorConfig.model_validate({**config.model_dump(), "traffic": traffic.model_dump()})
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, source="generator config (scaled by --rows)") from None


def load_config(path: Path | None = None, **overrides: object) -> GeneratorConfig:
    """Read and validate a generator config; ``overrides`` replace top-level fields."""
    source = path or DEFAULT_CONFIG
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"generator config {source} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"generator config {source} is not valid TOML: {exc}") from None
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return GeneratorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, source=f"generator config {source.name}") from None
