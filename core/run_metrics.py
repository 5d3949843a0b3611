"""Metrics left as files by the processes that make them, for the lakehouse exporter to serve.

A pipeline or generate run ends before Prometheus scrapes it, and the stream job runs in a
Spark driver we would rather not give a port: each writes its latest samples to one JSON file
per source under ``<home>/run/metrics/`` (atomically: a reader never sees half a file), and
the long-lived exporter (``python -m infra.exporter``) serves every file's samples at each scrape.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from core.settings import LakehouseSettings

log = logging.getLogger(__name__)

Kind = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Sample:
    """One metric value. A counter's name ends in ``_total``; its value only grows within a
    process's life (a restarted job starts again from 0, which Prometheus reads as a reset)."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    kind: Kind = "gauge"
    help: str = ""


# What the stream job writes and others read (the exporter, `make status`): named once, here.
STREAM_LAST_COMMIT = "lakehouse_stream_last_commit_timestamp_seconds"
STREAM_PROCESSED_OFFSET = "lakehouse_stream_processed_offset"
STREAM_ROWS_LANDED = "lakehouse_stream_rows_landed_total"
STREAM_ROWS_QUARANTINED = "lakehouse_stream_rows_quarantined_total"
STREAM_CONSUMER_LAG = "lakehouse_stream_consumer_lag_records"  # served by the exporter


def stream_cdr_source(topic: str) -> str:
    """The source (file) the stream job's CDR query writes for ``topic``."""
    return f"stream-cdr-{topic}"


def metrics_dir(settings: LakehouseSettings) -> Path:
    return settings.run_dir / "metrics"


def write_samples(settings: LakehouseSettings, source: str, samples: list[Sample]) -> Path:
    """Replace ``source``'s file with ``samples`` (atomic rename; the last writer wins)."""
    directory = metrics_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{source}.json"
    partial = directory / f".{source}.{os.getpid()}.part"
    partial.write_text(json.dumps([asdict(s) for s in samples]), encoding="utf-8")
    partial.replace(target)
    return target


def read_samples(settings: LakehouseSettings) -> dict[str, list[Sample]]:
    """Every source's samples; an unreadable file is logged and left out, never fatal."""
    found: dict[str, list[Sample]] = {}
    for path in sorted(metrics_dir(settings).glob("*.json")):
        try:
            found[path.stem] = [Sample(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError) as exc:
            log.warning("metrics file %s skipped: %s", path, exc)
    return found
