"""A seeded sample shared by the generator tests: 4 days over New Year's Eve, 4,000 subscribers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from generator.config import GeneratorConfig, load_config
from generator.run import Generation


@dataclass
class Sample:
    config: GeneratorConfig
    generation: Generation
    events: pd.DataFrame
    defects: pd.DataFrame
    subscribers: pd.DataFrame
    elements: pd.DataFrame
    incidents: pd.DataFrame

    def local_hour(self, frame: pd.DataFrame) -> pd.Series:
        return frame["start_time"].dt.tz_convert(self.config.time_zone).dt.hour

    @property
    def clean(self) -> pd.DataFrame:
        """Events without injected defects (duplicated rows keep their original)."""
        bad = set(self.defects.loc[self.defects.defect_type != "duplicate", "record_id"])
        return self.events[~self.events.record_id.isin(bad)].drop_duplicates("record_id")


def make_sample(**overrides: object) -> Sample:
    config = load_config(subscribers=4000, **overrides)
    generation = Generation(config)
    batches, truths = zip(*generation.batches(), strict=True)
    events = pa.Table.from_batches(batches)
    # The logical view: dictionary-encoded columns as plain strings.
    logical = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f for f in events.schema]
    )
    events = events.cast(logical).to_pandas()
    return Sample(
        config=config,
        generation=generation,
        events=events,
        defects=pa.concat_tables(truths).to_pandas(),
        subscribers=generation.world.subscribers.to_pandas(),
        elements=generation.world.network_elements.to_pandas(),
        incidents=generation.incidents_truth().to_pandas(),
    )


@pytest.fixture(scope="session")
def sample() -> Sample:
    return make_sample()


def binomial_band(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    sd = np.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd
