"""The detectors scored against the generator's truth on a full-size data set of another seed.

The anomaly thresholds were tuned on the default seed (42). Here seed 11 at the default 20,000
subscribers lands in namespaces of its own (``dq_*``) and goes through the whole pipeline; every
precision per anomaly type and every recall per incident type must reach 0.9, and every line of
the SIM-box ring must be found. (test_pipeline scores a small 3,000-line set, where quiet cells
make single hours borderline.)
"""

from __future__ import annotations

import pandas as pd
import pytest

from core.settings import LakehouseSettings, NamespaceSettings
from tests.integration.conftest import run_cli
from tests.integration.reconcile import query

pytestmark = pytest.mark.integration

SEED = 11


@pytest.fixture(scope="module")
def scores(settings: LakehouseSettings) -> pd.DataFrame:
    layers = NamespaceSettings().model_dump()
    seeded = settings.model_copy(
        update={"namespaces": NamespaceSettings(**{layer: f"dq_{name}" for layer, name in layers.items()})}
    )
    run_cli(seeded, "generate", "--seed", str(SEED))
    assert "pipeline succeeded" in run_cli(seeded, "pipeline").stdout
    return query(seeded, f"SELECT * FROM {seeded.namespaces.analytics}.anomaly_scores")


def test_every_anomaly_and_incident_type_scores_at_least_0_9(scores: pd.DataFrame) -> None:
    cell_hours = scores[scores.unit == "cell_hour"]
    assert set(cell_hours[cell_hours.metric == "precision"].type_name) >= {
        "all",
        "failure_spike",
        "traffic_drop",
    }
    assert set(cell_hours[cell_hours.metric == "recall"].type_name) >= {
        "all",
        "cell_outage",
        "congestion",
        "new_year_congestion",
    }
    low = scores[(scores.scored == 0) | (scores.score < 0.9)]
    assert low.empty, low.to_string()


def test_every_line_of_the_sim_box_ring_is_found_and_no_other(scores: pd.DataFrame) -> None:
    lines = scores[scores.unit == "line"].set_index("metric")
    assert lines.loc["recall", "scored"] == lines.loc["recall", "matched"] == 12
    assert lines.loc["precision", "scored"] == lines.loc["precision", "matched"] == 12
