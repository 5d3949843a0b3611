"""Injected network incidents and fraud, planned once per run, with their ground truth.

The truth is written beside the data (table ``truth.incidents`` / ``incidents.parquet``), never
as a column of the CDRs: later layers must find incidents from the traffic itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from core.contracts.raw_tables import INCIDENTS_SCHEMA
from generator import rng as rngs
from generator.config import GeneratorConfig
from generator.reference import World

US = 1_000_000
IncidentKind = Literal["cell_outage", "congestion", "simbox", "new_year_congestion"]
# Kinds the event builder applies per incident (the New Year spike is part of the traffic curves).
APPLIED_KINDS = ("cell_outage", "congestion")


@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: IncidentKind
    element: int  # index into the world's network elements
    start_us: int  # UTC epoch microseconds
    end_us: int
    subscribers: tuple[int, ...] = field(default=())


def local_to_utc_us(config: GeneratorConfig, moment: datetime) -> int:
    """Epoch microseconds (UTC) of a naive local time of the configured network."""
    local = moment.replace(tzinfo=ZoneInfo(config.time_zone))
    return int((local - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * US)


def new_year_spike_start(year: int) -> datetime:
    """Where the New Year spike of ``year``'s New Year's Eve begins (local time): 23:00 on Dec 31."""
    return datetime(year, 12, 31, 23)


def in_new_year_spike(moment: datetime, hours: float) -> bool:
    """Whether a local ``moment`` falls in the ``hours`` from the last New Year spike's start."""
    start = new_year_spike_start(moment.year if moment.month == 12 else moment.year - 1)
    return start <= moment < start + timedelta(hours=hours)


def _is_new_year_spike(config: GeneratorConfig, moment: datetime) -> bool:
    return in_new_year_spike(moment, config.new_year.hours + 2)


def plan_incidents(config: GeneratorConfig, world: World) -> list[Incident]:
    """Choose outage and congestion windows on busy cells, in busy hours, off the New Year spike."""
    rng = rngs.stream(config.seed, rngs.INCIDENTS)
    inc = config.incidents
    simbox_cells = set(world.home_element[world.simbox_ring >= 0].tolist())
    cells = np.array([c for r in world.region_cells for c in r.tolist() if c not in simbox_cells])
    # Busy cells: where many subscribers live, so a deviation stands out from the baseline.
    load = np.bincount(world.home_element, minlength=len(world.element_region))[cells]
    wanted = inc.cell_outages + inc.congestion_events
    chosen = cells[np.argsort(-load, kind="stable")[: max(wanted * 3, wanted)]]
    chosen = rng.permutation(chosen)[:wanted]

    incidents: list[Incident] = []
    for i, cell in enumerate(chosen):
        kind: IncidentKind = "cell_outage" if i < inc.cell_outages else "congestion"
        low, high = inc.outage_hours if kind == "cell_outage" else inc.congestion_hours
        while True:
            day = int(rng.integers(0, config.days))
            start = config.start + timedelta(days=day, hours=float(rng.uniform(9, 19)))
            if not _is_new_year_spike(config, start):
                break
        end = start + timedelta(hours=float(rng.uniform(low, high)))
        incidents.append(
            Incident(
                f"{kind}-{i + 1:03d}",
                kind,
                int(cell),
                local_to_utc_us(config, start),
                local_to_utc_us(config, end),
            )
        )
    window_start = local_to_utc_us(config, config.start)
    window_end = local_to_utc_us(config, config.start + timedelta(days=config.days))
    for ring in range(inc.simbox_rings):
        sims = np.flatnonzero(world.simbox_ring == ring)
        incidents.append(
            Incident(
                f"simbox-{ring + 1:03d}",
                "simbox",
                int(world.home_element[sims[0]]),
                window_start,
                window_end,
                tuple(int(s) for s in sims),
            )
        )
    return incidents + _new_year_congestion(config, world)


def _new_year_congestion(config: GeneratorConfig, world: World) -> list[Incident]:
    """The New Year spike fails calls and SMS of all the network's own lines, wherever they are
    served (cells, access nodes, and the visited networks of its roamers): one incident per
    element and New Year the window covers, so the truth holds every abnormal hour the generator
    makes."""
    if not config.new_year.enabled:
        return []
    window_end = config.start + timedelta(days=config.days)
    elements = np.arange(len(world.element_region))
    incidents = []
    for year in range(config.start.year - 1, window_end.year + 1):
        start = new_year_spike_start(year)
        end = start + timedelta(hours=config.new_year.hours)
        if end <= config.start or start >= window_end:
            continue
        start, end = max(start, config.start), min(end, window_end)
        incidents += [
            Incident(
                f"new_year_congestion-{year + 1}-{k + 1:03d}",
                "new_year_congestion",
                int(element),
                local_to_utc_us(config, start),
                local_to_utc_us(config, end),
            )
            for k, element in enumerate(elements)
        ]
    return incidents


def incidents_table(incidents: list[Incident], world: World) -> pa.Table:
    """Ground truth: one row per incident (per SIM for SIM-box rings)."""
    rows = []
    msisdn = world.subscribers.column("msisdn")
    for incident in incidents:
        base = {
            "incident_id": incident.incident_id,
            "incident_type": incident.kind,
            "element_id": world.element_ids[incident.element].as_py(),
            "start_time": incident.start_us,
            "end_time": incident.end_us,
        }
        for subscriber in incident.subscribers or (None,):
            rows.append(
                {
                    **base,
                    "subscriber_id": subscriber,
                    "msisdn": None if subscriber is None else msisdn[subscriber].as_py(),
                }
            )
    return pa.Table.from_pylist(rows, schema=INCIDENTS_SCHEMA)
