"""The streaming job's own metrics, left for the lakehouse exporter (:mod:`core.run_metrics`).

Each query has its file, written from its own ``foreachBatch`` after a commit (one thread per
query: no lock needed). Totals count since the job started. Writing a metric never fails a
batch: a full disk costs the metric, not the data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from core.run_metrics import (
    STREAM_LAST_COMMIT,
    STREAM_PROCESSED_OFFSET,
    STREAM_ROWS_LANDED,
    STREAM_ROWS_QUARANTINED,
    Sample,
    stream_cdr_source,
    write_samples,
)
from core.settings import LakehouseSettings

log = logging.getLogger(__name__)


@dataclass
class CdrQueryMetrics:
    """Rows landed and quarantined, micro-batches, and when the last one committed."""

    settings: LakehouseSettings
    topic: str
    landed: int = 0
    quarantined: int = 0
    batches: int = 0

    def committed(self, landed: int, quarantined: int, seconds: float, ends: dict[int, int]) -> None:
        """After a micro-batch's commits; ``ends`` is the next offset per partition after it."""
        self.landed += landed
        self.quarantined += quarantined
        self.batches += 1
        labels = {"topic": self.topic}
        samples = [
            Sample(STREAM_ROWS_LANDED, self.landed, labels, "counter",
                   "CDR rows the stream job committed to raw.cdr since it started."),
            Sample(STREAM_ROWS_QUARANTINED, self.quarantined, labels, "counter",
                   "Malformed messages the stream job committed to quarantine since it started."),
            Sample("lakehouse_stream_batches_total", self.batches, labels, "counter",
                   "Micro-batches the CDR query completed since the job started."),
            Sample("lakehouse_stream_batch_duration_seconds", seconds, labels, "gauge",
                   "Wall time of the CDR query's last micro-batch."),
            Sample(STREAM_LAST_COMMIT, time.time(), labels, "gauge",
                   "When the CDR query last completed a micro-batch (Unix time)."),
            *(Sample(STREAM_PROCESSED_OFFSET, end, {**labels, "partition": str(p)}, "gauge",
                     "Next offset of the partition after the CDR query's last micro-batch.")
              for p, end in sorted(ends.items())),
        ]  # fmt: skip
        _write(self.settings, stream_cdr_source(self.topic), samples)


@dataclass
class AlertQueryMetrics:
    """Real-time network alerts raised."""

    settings: LakehouseSettings
    topic: str
    raised: int = 0

    def committed(self, raised: int) -> None:
        self.raised += raised
        samples = [
            Sample("lakehouse_stream_alerts_raised_total", self.raised, {"topic": self.topic}, "counter",
                   "Real-time network alerts the stream job raised since it started."),
        ]  # fmt: skip
        _write(self.settings, f"stream-alerts-{self.topic}", samples)


def record_job_state(settings: LakehouseSettings, topic: str, failed: bool, restarts: dict[str, int]) -> None:
    """The supervisor's view: query restarts, and whether it gave up (its file: ``stream-job-<topic>``)."""
    samples = [
        Sample("lakehouse_stream_job_failed", float(failed), {"topic": topic}, "gauge",
               "1 once the stream job gave up restarting a failing query."),
        *(Sample("lakehouse_stream_query_restarts_total", count, {"topic": topic, "query": query}, "counter",
                 "Restarts of a failed query from its checkpoint since the job started.")
          for query, count in sorted(restarts.items())),
    ]  # fmt: skip
    _write(settings, f"stream-job-{topic}", samples)


def _write(settings: LakehouseSettings, source: str, samples: list[Sample]) -> None:
    try:
        write_samples(settings, source, samples)
    except OSError as exc:
        log.warning("stream metrics not written (%s): %s", source, exc)
