"""How far the streaming job is: offsets processed, offsets in the tables, and lag.

Read from outside the job (``make stream``, ``make status``, benchmarks, tests): the checkpoint
files, the tables' snapshot summaries and the topic's end offsets. No Spark needed.
"""

from __future__ import annotations

from pathlib import Path

from core import clients
from core.contracts.stream_tables import StreamTables
from core.settings import LakehouseSettings
from ingestion.streaming import ledger
from ingestion.streaming.source import checkpoint_dir


def topic_end_offsets(settings: LakehouseSettings, topic: str) -> ledger.Offsets:
    """Next offset to be written, per partition of ``topic`` (:func:`core.clients.lag_consumer`)."""
    consumer = clients.lag_consumer(settings)
    try:
        return clients.kafka_end_offsets(consumer, topic)
    finally:
        consumer.close()


def ingested_offsets(settings: LakehouseSettings, topic: str) -> ledger.Offsets:
    """Offsets of ``topic`` the job has committed to Iceberg (cdr or quarantine), per partition."""
    tables = StreamTables.of(settings.namespaces)
    catalog = clients.iceberg_catalog(settings)
    key = ledger.offsets_property(topic)
    recorded = [
        ledger.recorded_offsets(catalog.load_table(name)).get(key, {})
        for name in (tables.cdr, tables.quarantine)
        if catalog.table_exists(name)
    ]
    return ledger.merge_offsets(*recorded)


def processed_offsets(settings: LakehouseSettings, topic: str) -> ledger.Offsets:
    """Next offset per partition after the CDR query's last completed micro-batch."""
    return ledger.processed_offsets(checkpoint_dir(settings, topic, "cdr"), topic)


def lag(settings: LakehouseSettings, topic: str | None = None) -> int:
    """Records on the topic the streaming job has not yet fully processed."""
    topic = topic or settings.kafka.cdr_topic
    return ledger.lag(topic_end_offsets(settings, topic), processed_offsets(settings, topic))


def ready_file(settings: LakehouseSettings, topic: str | None = None) -> Path:
    """Exists while a job's queries run on ``topic`` (written by the job, awaited by its starter)."""
    return settings.run_dir / f"stream-job.{topic or settings.kafka.cdr_topic}.ready"


def state_file(settings: LakehouseSettings, topic: str | None = None) -> Path:
    """The job's last word on its health (``ingestion.streaming.supervision.JobState``)."""
    return settings.run_dir / f"stream-job.{topic or settings.kafka.cdr_topic}.state.json"
