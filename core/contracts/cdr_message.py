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
# Longest text, in UTF-8 bytes, each string field may hold. The raw layer keeps defects for the
# clean layer to judge, so the bounds are loose: several times the longest legitimate value. They
# only stop a payload (a field used as a blob, a runaway producer) from reaching raw.cdr, its
# Parquet statistics and every reader downstream.
MAX_TEXT_BYTES = {
    # Generated ids are 24 characters, a UUID is 36: 256 leaves room for composite keys.
    "record_id": 256,
    # Enumerations: voice|sms|data, MO|MT, answered|...|no_answer (9 characters at most).
    "record_type": 32,
    "direction": 32,
    "result": 32,
    # E.164 numbers have at most 15 digits (ITU-T E.164), IMSIs 15 (3GPP TS 23.003 2.2), IMEIs
    # 15 and IMEISVs 16 (TS 23.003 6.2); 64 leaves room for prefixes and formatting.
    "served_msisdn": 64,
    "served_imsi": 64,
    "served_imei": 64,
    # The other party may be a SIP/tel URI on IMS networks (sip:+213...@ims.mnc001.mcc603...).
    "other_party": 256,
    # Cell, OLT or DSLAM ids ("ALG-S0001-1", "STF-DSLAM-001"): short codes of an inventory.
    "network_element_id": 128,
    # An APN is at most 100 octets (3GPP TS 23.003 9.1).
    "apn": 128,
}


def message_fields() -> list[tuple[str, pa.DataType]]:
    """(name, type) of every field of a version-1 message, in contract order."""
    return [("schema_version", pa.int32()), *((f.name, f.type) for f in CDR_EVENT_FIELDS)]
