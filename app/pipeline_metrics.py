"""The pipeline's last run as metrics (:mod:`core.run_metrics`), for the lakehouse exporter.

Written when a run ends, passed or failed: each step's duration and outcome, each gate's
result, and when the pipeline last succeeded (kept from the previous file across failures).
"""

from __future__ import annotations

import logging
import time

from core.run_metrics import Sample, read_samples, write_samples
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)
SOURCE = "pipeline"
LAST_SUCCESS = "lakehouse_pipeline_last_success_timestamp_seconds"
LAST_RUN = "lakehouse_pipeline_last_run_timestamp_seconds"
LAST_RUN_SUCCESS = "lakehouse_pipeline_last_run_success"
STEP_SECONDS = "lakehouse_pipeline_step_duration_seconds"
STEP_SUCCESS = "lakehouse_pipeline_step_success"
GATE_SUCCESS = "lakehouse_pipeline_gate_success"
GATE_SUFFIX = " gate"  # the pipeline's gate steps are named "raw gate", "clean gate", ...


def _previous_success(settings: LakehouseSettings) -> float | None:
    for sample in read_samples(settings).get(SOURCE, []):
        if sample.name == LAST_SUCCESS:
            return sample.value
    return None


def pipeline_samples(
    steps: list[tuple[str, float, bool]], succeeded: bool, now: float, previous_success: float | None
) -> list[Sample]:
    """The samples of one run: ``steps`` are (name, seconds, passed) in the order they ran."""
    samples = [
        Sample(LAST_RUN, now, help="When the last run ended."),
        Sample(LAST_RUN_SUCCESS, float(succeeded), help="1: the last run published."),
    ]
    last_success = now if succeeded else previous_success
    if last_success is not None:
        samples.append(Sample(LAST_SUCCESS, last_success, help="When a pipeline run last published."))
    for name, seconds, passed in steps:
        step = {"step": name}
        samples.append(Sample(STEP_SECONDS, seconds, step, help="Wall time of each step of the last run."))
        samples.append(Sample(STEP_SUCCESS, float(passed), step, help="1: the step passed in the last run."))
        if name.endswith(GATE_SUFFIX):
            gate = {"gate": name.removesuffix(GATE_SUFFIX)}
            samples.append(
                Sample(GATE_SUCCESS, float(passed), gate, help="1: the gate passed in the last run.")
            )
    return samples


def record_pipeline_run(
    settings: LakehouseSettings, steps: list[tuple[str, float, bool]], succeeded: bool
) -> None:
    """Leave the run's metrics for the exporter; never fails the run itself."""
    try:
        samples = pipeline_samples(steps, succeeded, time.time(), _previous_success(settings))
        write_samples(settings, SOURCE, samples)
    except OSError as exc:
        log.warning("pipeline metrics not written: %s", exc)
