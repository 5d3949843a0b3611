"""Vectorised CDR events: one Arrow batch per (day, subscriber shard), no Python loop per row.

A unit of work is one local day for one shard of subscribers. Its randomness comes from its
own stream (seed, day, shard), so the rows do not depend on how units are grouped downstream.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from core.contracts.raw_tables import CDR_EVENT_SCHEMA
from generator import rng as rngs
from generator.columns import Columns
from generator.config import SEGMENTS, SHARD_SIZE, GeneratorConfig, TrafficRates
from generator.config_sections import NightFloor
from generator.defects import UNKNOWN_ELEMENTS, DefectContext, inject_defects
from generator.incidents import APPLIED_KINDS, US, Incident, in_new_year_spike, local_to_utc_us
from generator.record_ids import RecordIds
from generator.reference import EXTERNAL_POOL, MOBILE, World

HOUR_US = 3600 * US
HOUR_QUANTILES = 1 << 16
VOICE, SMS, DATA = 0, 1, 2
RECORD_TYPES = pa.array(["voice", "sms", "data"])
RESULTS = pa.array(["answered", "busy", "no_answer", "failed", "dropped", "delivered", "completed"])
ANSWERED, BUSY, NO_ANSWER, FAILED, DROPPED, DELIVERED, COMPLETED = range(7)
APNS = pa.array(["internet", "ims", "mms"])
DIRECTIONS = pa.array(["MO", "MT"])
SIMBOX_CURVE = 3  # curve index after the three segments


class EventBuilder:
    """Builds the CDRs of a generation run, unit by unit."""

    def __init__(
        self, config: GeneratorConfig, world: World, incidents: list[Incident], run_tag: str
    ) -> None:
        self.config = config
        self.world = world
        self.incidents = [i for i in incidents if i.kind in APPLIED_KINDS]
        self.run_tag = run_tag
        self.shards = -(-world.n_subscribers // SHARD_SIZE)
        t = config.traffic
        # Daily rates per curve (3 segments + SIM-box) and record type. A segment nobody is in
        # may have no traffic entries: it gets none (and flat curves no line ever uses).
        idle = TrafficRates(voice=0, sms=0, data=0)
        rates = [t.rates.get(s, idle) for s in SEGMENTS]
        self.rates = np.array([[r.voice, r.sms, r.data] for r in rates])
        self.fixed_rates = np.array([t.fixed_rates.voice, t.fixed_rates.sms, t.fixed_rates.data])
        self.simbox_rates = np.array([config.incidents.simbox_calls_per_day, 0.0, 0.3])
        hourly = [t.hourly.get(s, [1.0] * 24) for s in SEGMENTS] + [[0.2] * 7 + [1.0] * 16 + [0.4]]
        self.hourly = self._floored(np.array(hourly, dtype=float), t.night_floor)
        self.weekday = np.array([t.weekday.get(s, [1.0] * 7) for s in SEGMENTS] + [[1.0] * 7])
        self.curve = np.where(world.simbox_ring >= 0, SIMBOX_CURVE, world.segment).astype(np.int8)
        self.is_mobile = world.service == MOBILE
        self.contact_count = np.diff(world.contact_offsets)
        cells = world.region_cells
        self.region_cell_flat = np.concatenate(cells)
        self.region_cell_start = np.concatenate([[0], np.cumsum([len(c) for c in cells])[:-1]])
        self.region_cell_count = np.array([len(c) for c in cells])
        outcomes = t.voice_outcomes
        self.voice_cdf = np.cumsum(
            [outcomes[k] for k in ("answered", "busy", "no_answer", "failed", "dropped")]
        )
        # Element ids followed by ids no element has (for the unknown-reference defect).
        self.unknown_element_base = len(world.element_ids)
        self.defect_context = DefectContext(
            config.defects, config.seed, self.unknown_element_base, world.n_subscribers
        )
        unknown = pa.array([f"UNKNOWN-{i:04d}" for i in range(UNKNOWN_ELEMENTS)])
        self.element_lookup = pa.concat_arrays([world.element_ids, unknown])
        self.record_ids = RecordIds(run_tag)
        # Dictionaries hold no null values (Arrow cannot unify those across batches):
        # a fixed line's missing IMSI/IMEI is a null index instead.
        self.msisdn = world.subscribers.column("msisdn").combine_chunks()
        self.imsi = world.subscribers.column("imsi").combine_chunks().fill_null("")
        self.imei = world.subscribers.column("imei").combine_chunks().fill_null("")

    def units(self) -> Iterator[tuple[int, int]]:
        for day in range(self.config.days):
            for shard in range(self.shards):
                yield day, shard

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one builder per run; days are few
    def _day_curves(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per (curve, type) for this local day, New Year spike included: the day's volume
        factor, the hourly multipliers, and the inverse-CDF table of the hour of an event."""
        date = self.config.start + timedelta(days=day)
        multiplier = np.ones((3, 24))
        ny = self.config.new_year
        if ny.enabled:
            for h in range(24):
                if in_new_year_spike(date + timedelta(hours=h), ny.hours):
                    multiplier[VOICE, h], multiplier[SMS, h] = ny.voice_multiplier, ny.sms_multiplier
        weights = self.hourly * multiplier[None, :, :]  # (curve, type, hour)
        factor = weights.sum(axis=2) / self.hourly.sum(axis=2)
        return factor, multiplier, self._hour_table(weights / weights.sum(axis=2, keepdims=True))

    @staticmethod
    def _floored(hourly: np.ndarray, floor: NightFloor) -> np.ndarray:
        """(curve, type, hour) weights: each type's curve lifted to its night floor (a share of
        the curve's busiest hour), then scaled back to the curve's daily sum."""
        shares = np.array([floor.voice, floor.sms, floor.data])[None, :, None]
        base = np.repeat(hourly[:, None, :], 3, axis=1)
        lifted = np.maximum(base, shares * base.max(axis=2, keepdims=True))
        return lifted * (base.sum(axis=2, keepdims=True) / lifted.sum(axis=2, keepdims=True))

    @staticmethod
    def _hour_table(probs: np.ndarray) -> np.ndarray:
        """Hour of each of the 2^16 quantiles of every (curve, type) distribution, flattened."""
        cdf = np.cumsum(probs.reshape(-1, 24), axis=1)
        cdf[:, -1] = 1.0
        mids = (np.arange(HOUR_QUANTILES) + 0.5) / HOUR_QUANTILES
        return (
            np.stack([np.searchsorted(row, mids, side="right") for row in cdf])
            .clip(0, 23)
            .astype(np.int8)
            .ravel()
        )

    def build(self, day: int, shard: int) -> tuple[pa.RecordBatch, pa.Table]:
        """The events of one unit, and the ground truth of the defects injected into them.

        Each step draws from the unit's one random stream, in a fixed order: reordering the
        steps would change every row a seed makes (bump GENERATOR_VERSION if you must).
        """
        rng = rngs.stream(self.config.seed, rngs.EVENTS, day, shard)
        subs = np.arange(shard * SHARD_SIZE, min((shard + 1) * SHARD_SIZE, self.world.n_subscribers))
        date = self.config.start + timedelta(days=day)
        sub, rtype = self._how_many(subs, day, date, rng)
        hour, start = self._when(sub, rtype, day, date, rng)
        element, roaming = self._where(sub, hour, date, rng)
        direction, party = self._with_whom(sub, rtype, rng)
        result, cause = self._outcome(rtype, hour, day, rng)
        duration, end, bytes_up, bytes_down, apn = self._usage(sub, rtype, result, start, rng)
        n = len(sub)
        cols = Columns(
            subscriber=sub,
            record_type=rtype,
            start_us=start,
            end_us=end,
            duration_s=duration,
            element=element,
            party=party,
            direction=direction,
            result=result,
            cause=cause,
            bytes_up=bytes_up,
            bytes_down=bytes_down,
            apn=apn,
            roaming=roaming,
            served=sub.astype(np.int64),
            start_null=np.zeros(n, bool),
        )
        self._apply_incidents(cols, rng)
        defected = inject_defects(cols, np.arange(n, dtype=np.int64), self.defect_context, day, shard)
        ids = self.record_ids.build(day, shard, defected.record_number)
        return self._to_arrow(defected.columns, ids, int(subs[0]), len(subs)), defected.truth(ids)

    def _how_many(
        self, subs: np.ndarray, day: int, date: datetime, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Events per subscriber and record type (Poisson): (subscriber, record type) per event."""
        world = self.world
        factor = self._day_curves(day)[0]
        curve = self.curve[subs]
        base = np.where(self.is_mobile[subs, None], self.rates[np.minimum(curve, 2)], self.fixed_rates)
        base = np.where((curve == SIMBOX_CURVE)[:, None], self.simbox_rates, base)
        activity = np.where(curve == SIMBOX_CURVE, 1.0, world.activity[subs]) * world.active[subs]
        expected = base * activity[:, None] * self.weekday[curve, date.weekday(), None] * factor[curve]
        counts = rng.poisson(expected).ravel()
        sub = np.repeat(np.repeat(subs, 3), counts).astype(np.int32)
        rtype = np.repeat(np.tile(np.arange(3, dtype=np.int8), len(subs)), counts)
        return sub, rtype

    def _when(
        self, sub: np.ndarray, rtype: np.ndarray, day: int, date: datetime, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Local hour and UTC start of each event: an hour from the (curve, type) shape of the
        day, then uniform within the hour."""
        n = len(sub)
        hour_table = self._day_curves(day)[2]
        # Inverse-CDF table per group, 2^16 quantiles: one gather instead of a binary search.
        group = self.curve[sub].astype(np.int64) * 3 + rtype
        quantile = rng.integers(0, HOUR_QUANTILES, n)
        hour = hour_table[group * HOUR_QUANTILES + quantile].astype(np.int64)
        # The offset of local midnight holds all day (on a daylight-saving switch day, the
        # hours after the switch are one hour off: no zone in the shipped configs switches).
        start = local_to_utc_us(self.config, date) + hour * HOUR_US + rng.integers(0, HOUR_US, n)
        return hour, start

    def _where(
        self, sub: np.ndarray, hour: np.ndarray, date: datetime, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Serving element and roaming flag: home cell, work cell in office hours on workdays,
        sometimes a nearby cell or a visited network."""
        world, t, n = self.world, self.config.traffic, len(sub)
        mobile = self.is_mobile[sub]
        simbox = self.curve[sub] == SIMBOX_CURVE
        workday = date.weekday() not in t.weekend_days
        at_work = (
            workday
            & (hour >= t.work_hours[0])
            & (hour < t.work_hours[1])
            & (rng.random(n) < t.work_cell_share)
        )
        element = np.where(at_work, world.work_element[sub], world.home_element[sub])
        region = world.region[sub]
        wander = mobile & ~simbox & (rng.random(n) < t.roam_cell_share)
        pick = self.region_cell_start[region] + (rng.random(n) * self.region_cell_count[region]).astype(
            np.int64
        )
        element = np.where(wander, self.region_cell_flat[pick], element)
        roaming = mobile & ~simbox & (rng.random(n) < t.roaming_share)
        element = np.where(roaming, rng.choice(world.visited_elements, n), element).astype(np.int32)
        return element, roaming

    def _with_whom(
        self, sub: np.ndarray, rtype: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Direction and other party: a skewed pick among one's few contacts, else off-net."""
        world, t, n = self.world, self.config.traffic, len(sub)
        simbox = self.curve[sub] == SIMBOX_CURVE
        is_data = rtype == DATA
        direction = np.where(is_data, -1, np.where(simbox | (rng.random(n) < t.mo_share), 0, 1)).astype(
            np.int8
        )
        party = np.full(n, -1, np.int64)
        calls = np.flatnonzero(~is_data)
        caller = sub[calls]
        lo, k = world.contact_offsets[caller], self.contact_count[caller]
        contact = world.contact_targets[lo + (k * rng.random(len(calls), np.float32) ** 2).astype(np.int64)]
        external = world.n_subscribers + rng.integers(0, EXTERNAL_POOL, len(calls))
        party[calls] = np.where(
            rng.random(len(calls), np.float32) < t.external_party_share, external, contact
        )
        boxed = calls[simbox[calls]]
        party[boxed] = rng.integers(0, world.n_subscribers + EXTERNAL_POOL, len(boxed))
        return direction, party

    def _outcome(
        self, rtype: np.ndarray, hour: np.ndarray, day: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Result and Q.850 cause; the New Year spike fails a share of signalling events."""
        t, n = self.config.traffic, len(rtype)
        multiplier = self._day_curves(day)[1]
        result = np.full(n, COMPLETED, np.int8)
        voice, sms, is_data = rtype == VOICE, rtype == SMS, rtype == DATA
        result[voice] = np.searchsorted(self.voice_cdf, rng.random(int(voice.sum())), side="right").clip(0, 4)
        result[sms] = np.where(rng.random(int(sms.sum())) < t.sms_failure, FAILED, DELIVERED)
        result[is_data] = np.where(rng.random(int(is_data.sum())) < t.data_failure, FAILED, COMPLETED)
        congested = self.config.new_year.congestion_failure
        spike = (multiplier[VOICE, hour] > 1) & ~is_data & (rng.random(n) < congested)
        result[spike] = FAILED
        return result, self._causes(result, spike, rng)

    def _usage(
        self,
        sub: np.ndarray,
        rtype: np.ndarray,
        result: np.ndarray,
        start: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Duration, end time, data volumes and APN of each event."""
        t, n = self.config.traffic, len(sub)
        voice, sms, is_data = rtype == VOICE, rtype == SMS, rtype == DATA
        simbox = self.curve[sub] == SIMBOX_CURVE
        mobile = self.is_mobile[sub]
        # Durations: lognormal holding times (median about a minute); drops are cut short.
        duration = np.zeros(n, np.int32)
        talking = np.flatnonzero(voice & ((result == ANSWERED) | (result == DROPPED)))
        talk = np.exp(rng.normal(np.log(t.voice_duration_median_s), t.voice_duration_sigma, len(talking)))
        talk = np.where(simbox[talking], talk * 1.5, talk)
        talk = np.where(result[talking] == DROPPED, talk * rng.uniform(0.05, 0.8, len(talking)), talk)
        duration[talking] = talk.clip(1, 14_400)
        ok_data = np.flatnonzero(is_data & (result == COMPLETED))
        session = np.exp(rng.normal(np.log(t.data_duration_median_s), 1.2, len(ok_data))).clip(1, 86_400)
        duration[ok_data] = session
        # Call setup and ringing before release; SMS delivery delay; sessions end after their length.
        extra_s = np.where(voice, rng.uniform(2, 12, n), np.where(sms, rng.uniform(0.2, 5, n), 0.0))
        extra_s += np.where(voice & (result >= BUSY) & (result <= FAILED), rng.uniform(3, 40, n), 0.0)
        end = start + ((extra_s + duration) * US).astype(np.int64)

        bytes_down = np.zeros(n, np.int64)
        megabytes = np.exp(rng.normal(np.log(t.data_mb_median), 1.3, len(ok_data)))
        megabytes *= np.sqrt(session / t.data_duration_median_s) * np.where(mobile[ok_data], 1, 8)
        bytes_down[ok_data] = megabytes * 1e6
        bytes_up = (bytes_down * rng.uniform(0.05, 0.3, n)).astype(np.int64)
        apn = np.full(n, -1, np.int64)
        mobile_data = np.flatnonzero(is_data & mobile)
        apn[mobile_data] = np.searchsorted([0.93, 0.98], rng.random(len(mobile_data)), side="right")
        return duration, end, bytes_up, bytes_down, apn

    def _causes(self, result: np.ndarray, congested: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Q.850 cause for termination of each outcome."""
        n = len(result)
        cause = np.full(n, 16, np.int16)  # normal call clearing
        cause[result == BUSY] = 17
        cause[result == NO_ANSWER] = 19
        failed = result == FAILED
        cause[failed] = rng.choice(np.array([31, 38, 34], np.int16), int(failed.sum()), p=[0.5, 0.3, 0.2])
        dropped = result == DROPPED
        cause[dropped] = rng.choice(np.array([41, 102], np.int16), int(dropped.sum()))
        cause[congested] = 34  # no circuit/channel available
        return cause

    def _apply_incidents(self, c: Columns, rng: np.random.Generator) -> None:
        """Outages push most traffic to neighbours and fail the rest; congestion fails calls."""
        for incident in self.incidents:
            hit = (
                (c.element == incident.element)
                & (c.start_us >= incident.start_us)
                & (c.start_us < incident.end_us)
            )
            if not hit.any():
                continue
            signalling = c.record_type != DATA
            if incident.kind == "cell_outage":
                region = int(self.world.element_region[incident.element])
                neighbours = self.world.region_cells[region]
                neighbours = neighbours[neighbours != incident.element]
                moved = hit & (rng.random(len(hit)) < 0.8)
                c.element[moved] = rng.choice(neighbours, int(moved.sum()))
                failed = hit & ~moved
                cause = 38  # network out of order
            else:
                failed = hit & signalling & (rng.random(len(hit)) < self.config.incidents.congestion_failure)
                slow = hit & ~signalling
                c.bytes_down[slow] //= 4
                c.bytes_up[slow] //= 4
                cause = 34  # no circuit/channel available
            c.result[failed] = FAILED
            c.cause[failed] = cause
            c.duration_s[failed] = 0
            c.bytes_down[failed & ~signalling] = 0
            c.bytes_up[failed & ~signalling] = 0
            c.end_us[failed] = c.start_us[failed] + 3 * US

    def _to_arrow(self, c: Columns, ids: pa.Array, first: int, count: int) -> pa.RecordBatch:
        world = self.world

        def lookup(values: pa.Array, index: np.ndarray) -> pa.Array:
            return values.take(pa.array(index, mask=index < 0))

        def category(values: pa.Array, index: np.ndarray) -> pa.DictionaryArray:
            # Zero-copy: the indices point into a small dictionary; -1 is null.
            return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32), mask=index < 0), values)

        is_data = c.record_type == DATA
        # Served identities come from this shard's subscribers, plus the off-net numbers put in
        # by the unknown-subscriber defect, which have no SIM or device on record.
        shard = slice(first, first + count)
        in_shard = (c.served >= first) & (c.served < first + count)
        off_net = np.unique(c.served[c.served >= world.n_subscribers])
        local = np.where(in_shard, c.served - first, -1)
        served = np.where(c.served >= world.n_subscribers, count + np.searchsorted(off_net, c.served), local)
        sim = np.where(
            (local >= 0) & self.is_mobile[np.clip(c.served, 0, world.n_subscribers - 1)], local, -1
        )
        msisdn_dict = pa.concat_arrays([self.msisdn[shard], world.party_numbers.take(pa.array(off_net))])
        ts = pa.timestamp("us", tz="UTC")
        columns = [
            ids,
            category(RECORD_TYPES, c.record_type),
            category(msisdn_dict, served),
            category(self.imsi[shard], sim),
            category(self.imei[shard], sim),
            lookup(world.party_numbers, c.party),
            category(DIRECTIONS, c.direction),
            pa.array(c.start_us, ts, mask=c.start_null),
            pa.array(c.end_us, ts),
            pa.array(c.duration_s, pa.int32()),
            category(self.element_lookup, c.element),
            category(RESULTS, c.result),
            pa.array(c.cause, pa.int16()),
            pa.array(c.bytes_up, pa.int64(), mask=~is_data),
            pa.array(c.bytes_down, pa.int64(), mask=~is_data),
            category(APNS, c.apn),
            pa.array(c.roaming, pa.bool_()),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=CDR_EVENT_SCHEMA)
