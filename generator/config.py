"""What the generator makes: geography, subscriber mix, traffic, incidents and defects.

Loaded from a TOML file (default: ``generator/configs/algeria.toml``) and validated; an invalid
value stops with the field, the value and the allowed range (:class:`ConfigError`, exit 2).
Each section checks itself (:mod:`generator.config_sections`); the checks here span sections, so
that a config that validates also generates (numbers, SIM-box lines and record ids suffice).
"""

from __future__ import annotations

import locale
import math
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path

from faker.config import AVAILABLE_LOCALES
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from core.exceptions import ConfigError, FieldValueError
from core.settings import DEFAULT_TIME_ZONE, TimeZoneName
from generator.config_sections import (
    SEGMENTS,
    SERVICES,
    Defects,
    Incidents,
    Network,
    NewYear,
    Region,
    Segment,
    Service,
    StrictSection,
    TariffPlan,
    Traffic,
    TrafficRates,
    Weight,
    require_unique,
)
from generator.record_ids import RecordIds

DEFAULT_CONFIG = Path(__file__).with_name("configs") / "algeria.toml"
SHARD_SIZE = 4096  # subscribers per unit of work (a unit: one local day of one shard)
FIXED_LOCAL_DIGITS = 6  # a fixed number: country code, area code, then this many digits
EARLIEST_START, LATEST_START = datetime(1900, 1, 1), datetime(2999, 12, 31)


class GeneratorConfig(StrictSection):
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

    @field_validator("start")
    @classmethod
    def _local_midnight(cls, value: datetime) -> datetime:
        # The window is whole days in the network's local time (time_zone), from a midnight:
        # the hourly curves are local hours of the day.
        value = value.replace(tzinfo=None)
        if value.time() != time(0):
            raise ValueError("must be a local midnight (the first day at 00:00:00)")
        if not EARLIEST_START <= value <= LATEST_START:
            raise ValueError(f"must be from {EARLIEST_START:%Y-%m-%d} to {LATEST_START:%Y-%m-%d}")
        return value

    @field_validator("names_locale")
    @classmethod
    def _faker_locale(cls, value: str) -> str:
        # Faker's own spelling rules: fr-DZ is fr_DZ, a bare language its default country.
        if locale.normalize(value.replace("-", "_")).split(".")[0] not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale; available: {', '.join(sorted(AVAILABLE_LOCALES))}")
        return value

    @field_validator("segment_mix", "service_mix")
    @classmethod
    def _some_weight(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        if sum(value.values()) <= 0:
            keys = SEGMENTS if info.field_name == "segment_mix" else SERVICES
            raise ValueError(f"needs a positive weight for at least one of {', '.join(keys)}")
        return value

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, value: list[Region]) -> list[Region]:
        require_unique([r.code for r in value], "region codes")
        require_unique([r.fixed_area_code for r in value], "fixed area codes (numbers would collide)")
        return value

    @field_validator("tariff_plans")
    @classmethod
    def _distinct_plans(cls, value: list[TariffPlan]) -> list[TariffPlan]:
        require_unique([p.plan_id for p in value], "plan ids")
        return value

    @property
    def segments_in_use(self) -> list[Segment]:
        return [s for s in SEGMENTS if self.segment_mix.get(s, 0) > 0]

    @model_validator(mode="after")
    def _consistent(self) -> GeneratorConfig:
        """What generation needs across sections; each check may rely on the ones before it."""
        self._traffic_covers_the_mix()
        self._plans_cover_the_mix()
        if expected_events_per_day(self) <= 0:
            raise FieldValueError(
                "traffic.rates",
                "every rate of the segments and services in the mix is 0: the config makes no events",
                {s: self.traffic.rates[s].model_dump() for s in self.segments_in_use},
            )
        self._numbers_suffice()
        self._simbox_fits()
        self._record_ids_fit()
        return self

    def _traffic_covers_the_mix(self) -> None:
        for name in ("rates", "hourly", "weekday"):
            given = getattr(self.traffic, name)
            missing = [s for s in self.segments_in_use if s not in given]
            if missing:
                raise FieldValueError(
                    f"traffic.{name}",
                    f"nothing for segment {', '.join(map(repr, missing))} of segment_mix; needs an entry "
                    f"for every segment with a positive weight: {', '.join(self.segments_in_use)}",
                    sorted(given),
                )

    def _plans_cover_the_mix(self) -> None:
        offered = {(p.segment, p.service) for p in self.tariff_plans}
        for segment in self.segments_in_use:
            for service in (s for s, w in self.service_mix.items() if w > 0):
                if (segment, service) not in offered:
                    raise FieldValueError(
                        "tariff_plans",
                        f"no tariff plan for segment {segment!r} with service {service!r}; every pair "
                        "with positive weights in segment_mix and service_mix needs one",
                        sorted(offered),
                    )

    def _share(self, mix: dict[str, float], key: str) -> float:
        return mix.get(key, 0) / sum(mix.values())

    def _numbers_suffice(self) -> None:
        """Fixed numbers are unique local numbers within each region's area code."""
        fixed = 1 - self._share(self.service_mix, "4G-LTE")
        people, capacity = sum(r.population for r in self.regions), 10**FIXED_LOCAL_DIGITS
        for region in self.regions:
            lines = self.subscribers * fixed * region.population / people
            if lines + 5 * math.sqrt(lines) > capacity:
                raise FieldValueError(
                    "subscribers",
                    f"about {lines:,.0f} fixed lines (FTTH, ADSL) would be in region {region.code!r}, "
                    f"more than the {capacity:,} local numbers of its area code: lower subscribers or "
                    "the fixed share of service_mix, or split the region",
                    self.subscribers,
                )

    def _simbox_fits(self) -> None:
        """SIM-box SIMs are drawn from the active (97%) prepaid mobile lines, without repeats."""
        inc = self.incidents
        wanted = inc.simbox_rings * inc.simbox_sims
        share = self._share(self.segment_mix, "prepaid") * self._share(self.service_mix, "4G-LTE") * 0.97
        lines = self.subscribers * share
        if wanted and lines - 4 * math.sqrt(lines * (1 - share)) < wanted:
            raise FieldValueError(
                "incidents.simbox_rings",
                f"{inc.simbox_rings} ring(s) of {inc.simbox_sims} SIMs need {wanted} active prepaid mobile "
                f"lines; subscribers, segment_mix and service_mix give about {lines:,.0f}: set "
                "incidents.simbox_rings = 0 (no SIM-box fraud), lower simbox_sims or add subscribers",
                inc.simbox_rings,
            )

    def _record_ids_fit(self) -> None:
        events, per_line = self._busiest_unit()
        # Headroom: the unit's total varies with the lines' lognormal activity (4 sigma of a sum).
        lines = min(self.subscribers, SHARD_SIZE)
        spread = 1 + 4 * math.sqrt(math.expm1(self.traffic.activity_sigma**2) / lines)
        if events * spread > RecordIds.ROW_LIMIT:
            raise FieldValueError(
                "traffic.rates",
                f"a day of one shard of {lines:,} subscribers would make up to {events * spread:,.0f} "
                f"events ({per_line:,.0f} a line on the busiest day), more than the {RecordIds.ROW_LIMIT:,} "
                "record ids of a unit: lower traffic.rates and traffic.fixed_rates (or --rows), the "
                "new_year multipliers or the SIM-box incidents",
                {s: r.model_dump() for s, r in self.traffic.rates.items()},
            )

    def _busiest_unit(self) -> tuple[float, float]:
        """Expected events of the busiest unit of work (duplicates included), and of its busiest
        line: weekday factors and, on the days it covers, the New Year spike included."""
        t, ny, inc = self.traffic, self.new_year, self.incidents
        window = (self.start + timedelta(days=d) for d in range(self.days))
        spike = ny.enabled and any((d.month, d.day) in {(12, 31), (1, 1)} for d in window)
        per_line = 0.0
        for segment in self.segments_in_use:
            hourly = t.hourly[segment]  # spike hours: 23:00 on Dec 31, then the first of Jan 1
            share = max(hourly[23], sum(hourly[: ny.hours - 1])) / sum(hourly) if spike else 0.0
            voice, sms = 1 + (ny.voice_multiplier - 1) * share, 1 + (ny.sms_multiplier - 1) * share
            for r in (t.rates[segment], t.fixed_rates):
                day = (r.voice * voice + r.sms * sms + r.data) * max(t.weekday[segment])
                per_line = max(per_line, day)
        simbox = inc.simbox_rings * inc.simbox_sims * (inc.simbox_calls_per_day * ny.voice_multiplier + 0.3)
        events = (min(self.subscribers, SHARD_SIZE) * per_line + simbox) * (1 + self.defects.duplicate)
        return events, per_line


def expected_events_per_day(config: GeneratorConfig) -> float:
    """Mean events per day of a config, from its mixes and rates (before incidents/defects)."""
    t, mix = config.traffic, config.service_mix
    mobile_share = mix.get("4G-LTE", 0) / sum(mix.values())
    seg_total = sum(config.segment_mix.values())
    mobile = sum(
        w / seg_total * (t.rates[s].voice + t.rates[s].sms + t.rates[s].data)
        for s, w in config.segment_mix.items()
        if w > 0  # a segment nobody is in may have no rates
    )
    fixed = t.fixed_rates.voice + t.fixed_rates.sms + t.fixed_rates.data
    return config.subscribers * 0.97 * (mobile_share * mobile + (1 - mobile_share) * fixed)


def scale_to_rows(config: GeneratorConfig, rows: int) -> GeneratorConfig:
    """The config with traffic rates scaled so that it makes about ``rows`` events in total."""
    if rows < 1:
        raise ConfigError(f"--rows must be at least 1; got {rows}")
    factor = rows / (expected_events_per_day(config) * config.days)
    t = config.traffic

    def scaled(r: TrafficRates) -> dict[str, float]:
        # Plain values: a scaled rate out of range is reported by the validation below.
        return {"voice": r.voice * factor, "sms": r.sms * factor, "data": r.data * factor}

    traffic = {
        **t.model_dump(),
        "rates": {s: scaled(r) for s, r in t.rates.items()},
        "fixed_rates": scaled(t.fixed_rates),
    }
    try:
        return GeneratorConfig.model_validate({**config.model_dump(), "traffic": traffic})
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
