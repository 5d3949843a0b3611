"""One generation run: reference data, incidents, the event stream and its report."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from generator.config import GeneratorConfig
from generator.defects import DEFECT_TYPES
from generator.events import EventBuilder
from generator.incidents import Incident, incidents_table, plan_incidents
from generator.reference import World, build_world

# Bump whenever a change to the generator changes the rows a config produces: the batch id must
# change with them, or an idempotent load would keep the old rows under the same id.
GENERATOR_VERSION = 4


def batch_id_of(config: GeneratorConfig) -> str:
    """Deterministic id of what a config generates: the same config and seed give the same id."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}:{config.model_dump_json()}".encode()).hexdigest()
    return f"gen-{digest[:16]}"


@dataclass
class GenerationReport:
    """What a run made; sinks and tests compare the lakehouse against it."""

    batch_id: str
    rows: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    incidents: Counter[str] = field(default_factory=Counter)
    subscribers: int = 0
    network_elements: int = 0
    seconds: float = 0.0

    def add(self, batch: pa.RecordBatch, truth: pa.Table) -> None:
        self.rows += batch.num_rows
        counts = pc.value_counts(batch.column("record_type").dictionary_decode())
        for item in counts.to_pylist():
            self.by_type[item["values"] or "null"] += item["counts"]
        for item in pc.value_counts(truth.column("defect_type")).to_pylist():
            self.defects[item["values"]] += item["counts"]

    def as_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "rows": self.rows,
            "by_type": dict(sorted(self.by_type.items())),
            "defects": {name: self.defects.get(name, 0) for name in DEFECT_TYPES},
            "incidents": dict(self.incidents),
            "subscribers": self.subscribers,
            "network_elements": self.network_elements,
            "seconds": round(self.seconds, 3),
        }


class Generation:
    """Everything one config generates, produced lazily unit by unit."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.batch_id = batch_id_of(config)
        self.world: World = build_world(config)
        self.incidents: list[Incident] = plan_incidents(config, self.world)
        self.builder = EventBuilder(config, self.world, self.incidents, run_tag=self.batch_id[4:12])
        self.report = GenerationReport(
            self.batch_id,
            incidents=Counter(i.kind for i in self.incidents),
            subscribers=self.world.subscribers.num_rows,
            network_elements=self.world.network_elements.num_rows,
        )

    @property
    def units(self) -> int:
        return self.config.days * self.builder.shards

    def batches(self) -> Iterator[tuple[pa.RecordBatch, pa.Table]]:
        """(events, defect truth) per unit of work, in a fixed order; the report follows along."""
        began = time.perf_counter()
        for day, shard in self.builder.units():
            batch, truth = self.builder.build(day, shard)
            self.report.add(batch, truth)
            yield batch, truth
        self.report.seconds = time.perf_counter() - began

    def reference_tables(self) -> dict[str, pa.Table]:
        w = self.world
        return {
            "regions": w.regions,
            "tariff_plans": w.tariff_plans,
            "network_elements": w.network_elements,
            "subscribers": w.subscribers,
        }

    def incidents_truth(self) -> pa.Table:
        return incidents_table(self.incidents, self.world)
