"""The CDR message on Kafka: JSON, one event per message, schema version 1 (README "CDR messages").

The producer (``ingestion.kafka_sink``) writes it and the streaming job (``ingestion.streaming``)
reads it; both take every fact of the format from here.
"""

from __future__ import annotations

import pyarrow as pa

from core.contracts.raw_tables import CDR_EVENT_FIELDS

SCHEMA_VERSION = 1
# Messages are keyed by the served subscriber: one subscriber's events stay in order.
KEY_FIELD = "served_msisdn"
# Times are ISO-8601 in UTC with a zone, as the producer writes them: 2026-01-02T13:09:25.345145Z
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
# Without these a message cannot be told apart or interpreted at all.
REQUIRED_FIELDS = ("schema_version", "record_id")


def message_fields() -> list[tuple[str, pa.DataType]]:
    """(name, type) of every field of a version-1 message, in contract order."""
    return [("schema_version", pa.int32()), *((f.name, f.type) for f in CDR_EVENT_FIELDS)]
