"""Reference data, made once per seed: regions, tariff plans, network elements, subscribers.

Besides the Arrow tables that land in `raw`, :class:`World` keeps the numpy views the event
builder indexes into (segment, home and work cells, contacts), so events never loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from core.contracts.raw_tables import (
    NETWORK_ELEMENTS_SCHEMA,
    REGIONS_SCHEMA,
    SUBSCRIBERS_SCHEMA,
    TARIFF_PLANS_SCHEMA,
)
from generator import rng as rngs
from generator.config import FIXED_LOCAL_DIGITS, SEGMENTS, SERVICES, GeneratorConfig

MOBILE = SERVICES.index("4G-LTE")
NAME_POOL = 400
# Type allocation codes of common handsets: the first 8 digits of an IMEI.
TACS = np.array([35332811, 35391110, 35467011, 86891203, 86769304, 35290611, 35875910, 86012345, 35925406])
SUBSCRIBER_SERIALS = 5 * 10**7
EXTERNAL_POOL = 50_000  # off-net numbers (other operators) called by our subscribers
VISITED_NETWORKS = ("VPLMN-20801", "VPLMN-21407", "VPLMN-60501")  # France, Spain, Tunisia


@dataclass(frozen=True)
class World:
    """Reference tables plus the arrays the event builder needs."""

    regions: pa.Table
    tariff_plans: pa.Table
    network_elements: pa.Table
    subscribers: pa.Table
    # Per subscriber (index = subscriber_id):
    segment: np.ndarray  # int8 index into SEGMENTS
    service: np.ndarray  # int8 index into SERVICES
    region: np.ndarray  # int16 index into config.regions
    home_element: np.ndarray  # int32 index into network_elements
    work_element: np.ndarray  # int32
    activity: np.ndarray  # float32, mean 1
    active: np.ndarray  # bool: suspended lines make no traffic
    contact_offsets: np.ndarray  # int64, CSR over contact_targets
    contact_targets: np.ndarray  # int32 subscriber index
    simbox_ring: np.ndarray  # int16: -1, or the ring a SIM-box SIM belongs to
    # Per network element:
    element_ids: pa.Array
    element_region: np.ndarray  # int16; -1 for visited networks
    region_cells: list[np.ndarray]  # per region: element indices of its mobile cells
    visited_elements: np.ndarray  # element indices of visited (roaming) networks
    # Numbers: subscribers' MSISDNs followed by the off-net pool (other-party lookups).
    party_numbers: pa.Array

    @property
    def n_subscribers(self) -> int:
        return len(self.segment)


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")


def _concat(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _luhn_digit(body: np.ndarray, length: int) -> np.ndarray:
    """Luhn check digit of integers with ``length`` digits (IMEI = 14 digits + check)."""
    digits = (body[:, None] // 10 ** np.arange(length - 1, -1, -1)) % 10
    doubled = digits[:, 1::2] * 2  # every second digit from the left, for a 14-digit body
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return (10 - total % 10) % 10


def _weights(values: list[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(values, dtype=float)
    return w / w.sum()


def _name_pools(config: GeneratorConfig) -> tuple[list[str], list[str], list[str]]:
    fake = Faker(config.names_locale)
    fake.seed_instance(config.seed)
    male = [fake.first_name_male() for _ in range(NAME_POOL)]
    female = [fake.first_name_female() for _ in range(NAME_POOL)]
    last = [fake.last_name() for _ in range(NAME_POOL)]
    return male, female, last


def _network(
    config: GeneratorConfig,
    mobile_by_region: np.ndarray,
    fixed_by_region: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pa.Table, np.ndarray, list[np.ndarray], np.ndarray]:
    """Cells (sites of 3 sectors) per region from mobile load; OLTs and DSLAMs from fixed load.

    Returns the table, each element's region index (-1 for visited networks), each region's
    cell indices, and the indices of the visited (roaming) networks.
    """
    net = config.network
    rows: list[dict[str, object]] = []
    element_region: list[int] = []
    region_cells: list[np.ndarray] = []
    for r, region in enumerate(config.regions):
        n_cells = max(net.cells_per_site, int(np.ceil(mobile_by_region[r] / net.mobile_subscribers_per_cell)))
        n_sites = int(np.ceil(n_cells / net.cells_per_site))
        site_city = rng.choice(len(region.cities), n_sites, p=_weights([c.weight for c in region.cities]))
        first = len(rows)
        for site in range(n_sites):
            city = region.cities[site_city[site]]
            site_id = f"{region.code}-S{site + 1:04d}"
            lat, lon = round(city.lat + rng.normal(0, 0.03), 5), round(city.lon + rng.normal(0, 0.03), 5)
            for sector in range(1, net.cells_per_site + 1):
                rows.append(
                    {"element_id": f"{site_id}-{sector}", "element_type": "cell", "technology": "4G-LTE",
                     "site_id": site_id, "region_code": region.code, "city": city.name,
                     "latitude": lat, "longitude": lon, "capacity_erlangs": 40.0}
                )  # fmt: skip
                element_region.append(r)
        region_cells.append(np.arange(first, len(rows), dtype=np.int32))
        for column, (tech, etype) in enumerate((("FTTH", "olt"), ("ADSL", "dslam"))):
            count = max(1, int(np.ceil(fixed_by_region[r, column] / net.fixed_subscribers_per_node)))
            for k in range(count):
                city = region.cities[k % len(region.cities)]
                rows.append(
                    {"element_id": f"{region.code}-{etype.upper()}-{k + 1:03d}", "element_type": etype,
                     "technology": tech, "site_id": f"{region.code}-CO{k % len(region.cities) + 1:02d}",
                     "region_code": region.code, "city": city.name,
                     "latitude": city.lat, "longitude": city.lon}
                )  # fmt: skip
                element_region.append(r)
    visited = np.arange(len(rows), len(rows) + len(VISITED_NETWORKS), dtype=np.int32)
    for vplmn in VISITED_NETWORKS:
        rows.append(
            {"element_id": vplmn, "element_type": "visited_network", "technology": "4G-LTE", "site_id": vplmn}
        )
        element_region.append(-1)
    table = pa.Table.from_pylist(rows, schema=NETWORK_ELEMENTS_SCHEMA)
    return table, np.array(element_region, np.int16), region_cells, visited


def build_world(config: GeneratorConfig) -> World:
    """Make every reference table for ``config`` (deterministic in config.seed).

    Each step draws from one random stream in a fixed order: reordering them changes every
    world a seed makes (bump GENERATOR_VERSION if you must).
    """
    rng = rngs.stream(config.seed, rngs.REFERENCE)
    lines = _lines(config, rng)
    elements, element_region, region_cells, visited = _network(
        config, lines.mobile_by_region, lines.fixed_by_region, rng
    )
    element_type = elements.column("element_type").to_numpy(zero_copy_only=False)
    home, work = _home_and_work(lines, element_region, element_type, region_cells, rng)
    # Heavy-tailed activity, mean 1; suspended lines are silent.
    sigma = config.traffic.activity_sigma
    activity = np.exp(rng.normal(-sigma * sigma / 2, sigma, lines.n)).astype(np.float32)
    active = rng.random(lines.n) >= 0.03
    msisdn, imsi, imei = _identities(config, lines, rng)
    simbox, imei = _simbox_rings(config, lines, active, imei, home, work, region_cells, rng)
    offsets, targets = _calling_graph(config, lines, rng)
    subscribers = _subscribers_table(config, lines, elements, home, active, msisdn, imsi, imei, rng)
    net = config.network
    rng_ext = rngs.stream(config.seed, rngs.EXTERNAL_NUMBERS)
    external = _concat(net.country_code, pa.array(rng_ext.choice(["5", "6", "7"], EXTERNAL_POOL)),
                       _digits(rng_ext.integers(SUBSCRIBER_SERIALS, 10**8, EXTERNAL_POOL), 8))  # fmt: skip
    return World(
        regions=_regions_table(config),
        tariff_plans=_plans_table(config),
        network_elements=elements,
        subscribers=subscribers,
        segment=lines.segment,
        service=lines.service,
        region=lines.region,
        home_element=home,
        work_element=work,
        activity=activity,
        active=active,
        contact_offsets=offsets,
        contact_targets=targets,
        simbox_ring=simbox,
        element_ids=elements.column("element_id").combine_chunks(),
        element_region=element_region,
        region_cells=region_cells,
        visited_elements=visited,
        party_numbers=pa.concat_arrays([msisdn, external]),
    )


@dataclass
class _Lines:
    """Every subscriber line's region, segment and service (index arrays), and their counts."""

    n: int
    n_regions: int
    region: np.ndarray
    segment: np.ndarray
    service: np.ndarray
    mobile: np.ndarray
    mobile_by_region: np.ndarray
    fixed_by_region: np.ndarray


def _lines(config: GeneratorConfig, rng: np.random.Generator) -> _Lines:
    n, n_regions = config.subscribers, len(config.regions)
    region = rng.choice(n_regions, n, p=_weights([r.population for r in config.regions])).astype(np.int16)
    segment = rng.choice(
        len(SEGMENTS), n, p=_weights([config.segment_mix.get(s, 0) for s in SEGMENTS])
    ).astype(np.int8)
    service = rng.choice(
        len(SERVICES), n, p=_weights([config.service_mix.get(s, 0) for s in SERVICES])
    ).astype(np.int8)
    mobile = service == MOBILE
    fixed_by_region = np.zeros((n_regions, 2))
    np.add.at(fixed_by_region, (region[~mobile], service[~mobile] - 1), 1)
    mobile_by_region = np.bincount(region[mobile], minlength=n_regions)
    return _Lines(n, n_regions, region, segment, service, mobile, mobile_by_region, fixed_by_region)


def _home_and_work(
    lines: _Lines,
    element_region: np.ndarray,
    element_type: np.ndarray,
    region_cells: list[np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Home and work cells: home anywhere in the region, work skewed to the busiest cells;
    fixed lines live and work at their access node."""
    region, service = lines.region, lines.service
    home = np.empty(lines.n, np.int32)
    work = np.empty(lines.n, np.int32)
    for r in range(lines.n_regions):
        cells = region_cells[r]
        in_region = np.flatnonzero((region == r) & lines.mobile)
        home[in_region] = rng.choice(cells, len(in_region))
        hub = _weights(rng.pareto(1.5, len(cells)) + 0.1)
        work[in_region] = rng.choice(cells, len(in_region), p=hub)
        for tech, etype in ((1, "olt"), (2, "dslam")):
            nodes = np.flatnonzero((element_region == r) & (element_type == etype))
            fixed = np.flatnonzero((region == r) & (service == tech))
            home[fixed] = rng.choice(nodes, len(fixed))
            work[fixed] = home[fixed]
    return home, work


def _identities(
    config: GeneratorConfig, lines: _Lines, rng: np.random.Generator
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """MSISDN (unique national numbers, mobile and fixed), IMSI and IMEI (mobile only)."""
    net, n, mobile = config.network, lines.n, lines.mobile
    # Subscribers' serials stay below 5e7 and the off-net pool's above: the two never collide.
    serial = rng.choice(SUBSCRIBER_SERIALS, n, replace=False)
    prefix = pa.array(np.array(net.mobile_prefixes)[serial % len(net.mobile_prefixes)])
    area = pa.array(np.array([r.fixed_area_code for r in config.regions])[lines.region])
    mobile_number = _concat(net.country_code, prefix, _digits(serial, 8))
    # Fixed numbers are unique within their area code: draw them without replacement per region.
    local_number = np.zeros(n, np.int64)
    for r in range(lines.n_regions):
        fixed = np.flatnonzero((lines.region == r) & ~mobile)
        local_number[fixed] = rng.choice(10**FIXED_LOCAL_DIGITS, len(fixed), replace=False)
    fixed_number = _concat(net.country_code, area, _digits(local_number, FIXED_LOCAL_DIGITS))
    msisdn = pc.if_else(pa.array(mobile), mobile_number, fixed_number)
    imsi = pc.if_else(
        pa.array(mobile),
        _concat(net.mcc + net.mnc, _digits(rng.choice(10**10 - 1, n, replace=False), 10)),
        None,
    )
    imei_body = rng.choice(TACS, n) * 10**6 + rng.integers(0, 10**6, n)
    imei = pc.if_else(pa.array(mobile), _digits(imei_body * 10 + _luhn_digit(imei_body, 14), 15), None)
    return msisdn, imsi, imei


def _simbox_rings(
    config: GeneratorConfig,
    lines: _Lines,
    active: np.ndarray,
    imei: pa.Array,
    home: np.ndarray,
    work: np.ndarray,
    region_cells: list[np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, pa.Array]:
    """SIM-box rings: prepaid mobile SIMs of one cell sharing a handful of devices. Moves the
    ring's SIMs to their cell (``lines.region``, ``home``, ``work`` in place); returns the ring
    of each line (-1: none) and the IMEIs with the shared devices."""
    region = lines.region
    simbox = np.full(lines.n, -1, np.int16)
    candidates = np.flatnonzero(lines.mobile & (lines.segment == SEGMENTS.index("prepaid")) & active)
    imei_np = imei.to_numpy(zero_copy_only=False).copy()
    for ring in range(config.incidents.simbox_rings):
        sims = rng.choice(candidates[simbox[candidates] < 0], config.incidents.simbox_sims, replace=False)
        simbox[sims] = ring
        cell = rng.choice(region_cells[int(region[sims[0]])])
        region[sims], home[sims], work[sims] = region[sims[0]], cell, cell
        imei_np[sims] = rng.choice(imei_np[sims][:3], len(sims))
    return simbox, pa.array(imei_np, pa.string())


def _calling_graph(
    config: GeneratorConfig, lines: _Lines, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Contacts (CSR offsets, targets): few repeated contacts each, popular people in many
    lists, mostly local."""
    n, region = lines.n, lines.region
    k = np.maximum(1, np.round(np.exp(rng.normal(np.log(config.traffic.contacts_median), 0.6, n)))).astype(
        np.int64
    )
    offsets = np.concatenate([[0], np.cumsum(k)])
    targets = np.empty(offsets[-1], np.int32)
    owner = np.repeat(np.arange(n), k)
    popularity = rng.pareto(2.0, n) + 0.2
    local = rng.random(len(targets)) < 0.75
    targets[~local] = rng.choice(n, int((~local).sum()), p=_weights(popularity))
    for r in range(lines.n_regions):
        members = np.flatnonzero(region == r)
        slots = np.flatnonzero(local & (region[owner] == r))
        targets[slots] = rng.choice(members, len(slots), p=_weights(popularity[members]))
    return offsets, targets


def _subscribers_table(
    config: GeneratorConfig,
    lines: _Lines,
    elements: pa.Table,
    home: np.ndarray,
    active: np.ndarray,
    msisdn: pa.Array,
    imsi: pa.Array,
    imei: pa.Array,
    rng: np.random.Generator,
) -> pa.Table:
    """raw.subscribers: identities, names and birth dates (personal data), plan and home."""
    n, mobile, segment, service = lines.n, lines.mobile, lines.segment, lines.service
    male, female, last = _name_pools(config)
    gender = rng.random(n) < 0.5
    first = np.where(
        gender, np.array(female)[rng.integers(0, NAME_POOL, n)], np.array(male)[rng.integers(0, NAME_POOL, n)]
    )
    start = config.start.date()
    birth = np.datetime64(start) - rng.integers(18 * 365, 80 * 365, n).astype("timedelta64[D]")
    activation = np.datetime64(start) - rng.integers(1, 10 * 365, n).astype("timedelta64[D]")
    plan_of = {(p.segment, p.service): p.plan_id for p in reversed(config.tariff_plans)}
    plans = np.array([[plan_of.get((seg, svc)) for svc in SERVICES] for seg in SEGMENTS], dtype=object)
    element_city = elements.column("city").to_numpy(zero_copy_only=False)
    return pa.Table.from_pydict(
        {
            "subscriber_id": np.arange(n, dtype=np.int64),
            "msisdn": msisdn,
            "imsi": imsi,
            "imei": pc.if_else(pa.array(mobile), imei, None),
            "first_name": first,
            "last_name": np.array(last)[rng.integers(0, NAME_POOL, n)],
            "gender": np.where(gender, "F", "M"),
            "birth_date": birth.astype("datetime64[D]"),
            "region_code": np.array([r.code for r in config.regions])[lines.region],
            "city": element_city[home],
            "segment": np.array(SEGMENTS)[segment],
            "service": np.array(SERVICES)[service],
            "plan_id": plans[segment, service].astype(str),
            "activation_date": activation.astype("datetime64[D]"),
            "status": np.where(active, "active", "suspended"),
            "home_element_id": elements.column("element_id").take(pa.array(home)),
        },
        schema=SUBSCRIBERS_SCHEMA,
    )


def _regions_table(config: GeneratorConfig) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "region_code": r.code,
                "region_name": r.name,
                "population": r.population,
                "fixed_area_code": r.fixed_area_code,
            }
            for r in config.regions
        ],
        schema=REGIONS_SCHEMA,
    )


def _plans_table(config: GeneratorConfig) -> pa.Table:
    rows = [
        {**p.model_dump(exclude={"name"}), "plan_name": p.name, "currency": config.currency}
        for p in config.tariff_plans
    ]
    return pa.Table.from_pylist(rows, schema=TARIFF_PLANS_SCHEMA)
