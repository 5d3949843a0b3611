"""Independent, reproducible random streams.

Each piece of generation draws from its own stream, keyed by the seed and what it makes (and,
for events, the day and subscriber shard). So the same seed gives the same rows however the
output is batched, and a change to one piece does not shift the randomness of the others.
"""

from __future__ import annotations

import numpy as np

REFERENCE = 1
EXTERNAL_NUMBERS = 2
INCIDENTS = 3
EVENTS = 4
DEFECTS = 5


def stream(seed: int, *key: int) -> np.random.Generator:
    """The generator for ``key`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key])))
