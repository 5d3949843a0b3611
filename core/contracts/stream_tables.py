"""Tables of the stream besides ``raw.cdr``: quarantine, real-time KPIs and alerts, and the live
producer's truth that the alerts are scored against."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from core.contracts.raw_tables import INCIDENTS_SCHEMA, TS, doc_field, truth_namespace
from core.settings import NamespaceSettings

QUARANTINE_SCHEMA = pa.schema(
    [
        doc_field("topic", pa.string(), "Kafka topic the message came from"),
        doc_field("partition", pa.int32(), "Kafka partition"),
        doc_field("offset", pa.int64(), "Kafka offset: (topic, partition, offset) names the message"),
        doc_field("kafka_timestamp", TS, "Kafka record timestamp"),
        doc_field("message_key", pa.binary(), "Message key, bytes as received"),
        doc_field("message_value", pa.binary(), "Message value, bytes as received (nothing is lost)"),
        doc_field(
            "reason",
            pa.string(),
            "Why it was rejected (ingestion.streaming.contract): invalid_json | duplicate_key | "
            "missing_field | unsupported_schema_version | too_long | wrong_type | out_of_range, "
            "with the field",
        ),
        doc_field("quarantined_at", TS, "When the streaming job rejected it"),
    ]
)

CELL_WINDOW_SCHEMA = pa.schema(
    [
        doc_field("network_element_id", pa.string(), "Cell or access node"),
        doc_field("window_start", TS, "Window start (event time, UTC)"),
        doc_field("window_end", TS, "Window end"),
        doc_field("events", pa.int64(), "All events of the window"),
        doc_field("attempts", pa.int64(), "Voice and SMS attempts"),
        doc_field("failed", pa.int64(), "Failed voice and SMS attempts"),
        doc_field("answered", pa.int64(), "Answered calls (dropped ones included)"),
        doc_field("dropped", pa.int64(), "Calls dropped after answer"),
        doc_field("computed_at", TS, "When the window closed in the stream"),
    ]
)

ALERT_SCHEMA = pa.schema(
    [
        doc_field("alert_id", pa.string(), "Deterministic: cell, window and rule"),
        doc_field("alert_type", pa.string(), "failure_spike | drop_spike | traffic_drop"),
        doc_field("network_element_id", pa.string(), "Cell or access node"),
        doc_field("window_start", TS, "Window start (event time, UTC)"),
        doc_field("window_end", TS, "Window end"),
        doc_field("attempts", pa.int64(), "Voice and SMS attempts in the window"),
        doc_field("observed", pa.float64(), "The measured value: a rate, or attempts for traffic_drop"),
        doc_field("threshold", pa.float64(), "The value it crossed"),
        doc_field("baseline_attempts", pa.float64(), "Mean attempts over the cell's recent windows"),
        doc_field("raised_at", TS, "When the stream raised it"),
    ]
)


# What the live producer injected, cycle by cycle, with times as streamed (``ingestion.live_truth``).
LIVE_INCIDENTS_SCHEMA = pa.schema(
    [
        *INCIDENTS_SCHEMA,
        doc_field("run_id", pa.string(), "Producer run: live-<event seed>-<wall-clock start, epoch s>"),
        doc_field("cycle", pa.int32(), "Cycle of the config's days, from 0"),
        doc_field("cycle_start", TS, "Start of the cycle's simulated days, as streamed"),
        doc_field("cycle_end", TS, "End of the cycle's simulated days, as streamed"),
    ]
)


def live_truth_table(raw_namespace: str) -> str:
    """Where the live producer's truth lives: beside ``raw_namespace``, as the batch truth does."""
    return f"{truth_namespace(raw_namespace)}.live_incidents"


@dataclass(frozen=True)
class StreamTables:
    """Fully qualified (catalog-less) names of the tables the streaming job writes."""

    cdr: str
    quarantine: str
    cell_windows: str
    alerts: str
    live_truth: str

    @classmethod
    def of(cls, namespaces: NamespaceSettings) -> StreamTables:
        """The stream's tables: CDRs and rejects in the raw layer, real-time KPIs in analytics."""
        return cls(
            cdr=f"{namespaces.raw}.cdr",
            quarantine=f"{namespaces.raw}.cdr_quarantine",
            cell_windows=f"{namespaces.analytics}.realtime_cell_windows",
            alerts=f"{namespaces.analytics}.realtime_alerts",
            live_truth=live_truth_table(namespaces.raw),
        )

    @property
    def all(self) -> tuple[str, str, str, str, str]:
        return (self.cdr, self.quarantine, self.cell_windows, self.alerts, self.live_truth)
