"""The baseline: a row-at-a-time generator of the same columns, as public CDR generators are.

Kept fair: digits come from `random` (Faker's numerify is several times slower), Faker only
seeds it, and rows become Arrow in one call at the end.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from faker import Faker

TYPES = ["voice", "sms", "data"]
RESULTS = ["answered", "busy", "no_answer", "failed", "dropped"]


def naive_events(n: int, seed: int = 1) -> pa.Table:
    """n CDRs built one Python dict at a time."""
    fake = Faker("fr_DZ")
    fake.seed_instance(seed)
    rnd = random.Random(fake.random.random())
    window = datetime(2026, 12, 29, tzinfo=UTC)
    rows = []
    for _ in range(n):
        kind = rnd.choice(TYPES)
        start = window + timedelta(seconds=rnd.uniform(0, 4 * 86400))
        duration = int(rnd.lognormvariate(4.1, 1.1)) if kind != "sms" else 0
        rows.append(
            {
                "record_id": str(uuid.uuid4()),
                "record_type": kind,
                "served_msisdn": f"2136{rnd.randrange(10**8):08d}",
                "served_imsi": f"60301{rnd.randrange(10**10):010d}",
                "served_imei": f"35{rnd.randrange(10**13):013d}",
                "other_party": f"2135{rnd.randrange(10**8):08d}" if kind != "data" else None,
                "direction": rnd.choice(["MO", "MT"]) if kind != "data" else None,
                "start_time": start,
                "end_time": start + timedelta(seconds=duration),
                "duration_s": duration,
                "network_element_id": f"ALG-S{rnd.randint(1, 40):04d}-{rnd.randint(1, 3)}",
                "result": rnd.choice(RESULTS),
                "cause_code": rnd.choice([16, 17, 19, 31, 41]),
                "bytes_up": rnd.randint(0, 10**7) if kind == "data" else None,
                "bytes_down": rnd.randint(0, 10**8) if kind == "data" else None,
                "apn": "internet" if kind == "data" else None,
                "roaming": rnd.random() < 0.01,
            }
        )
    return pa.Table.from_pylist(rows)
