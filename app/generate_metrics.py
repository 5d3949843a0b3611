"""The last ``lakehouse generate`` run per target as metrics (:mod:`core.run_metrics`).

A batch run ends long before a scrape, so it leaves its rows, wall time and rows/s for the
lakehouse exporter to serve: one file per target (``generate-<target>``), so an Iceberg load and
a Kafka run do not overwrite each other's numbers.
"""

from __future__ import annotations

import logging
import time

from core.run_metrics import Sample, write_samples
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)
PREFIX = "lakehouse_generate_last_run"


def generate_samples(target: str, rows: int, seconds: float, succeeded: bool, now: float) -> list[Sample]:
    """The samples of one run into ``target`` (iceberg, parquet, kafka)."""
    labels = {"target": target}
    rate = rows / seconds if seconds > 0 else 0.0
    return [
        Sample(f"{PREFIX}_timestamp_seconds", now, labels, help="When the last run ended."),
        Sample(f"{PREFIX}_success", float(succeeded), labels, help="1: the last run landed everything."),
        Sample(f"{PREFIX}_rows", float(rows), labels, help="Events the last run generated."),
        Sample(f"{PREFIX}_duration_seconds", seconds, labels, help="Wall time of the last run."),
        Sample(f"{PREFIX}_rows_per_second", rate, labels, help="Events per second of the last run."),
    ]


def record_generate_run(
    settings: LakehouseSettings, target: str, rows: int, seconds: float, succeeded: bool
) -> None:
    """Leave the run's metrics for the exporter; never fails the run itself."""
    try:
        write_samples(
            settings, f"generate-{target}", generate_samples(target, rows, seconds, succeeded, time.time())
        )
    except OSError as exc:
        log.warning("generate metrics not written: %s", exc)
