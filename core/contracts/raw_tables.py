"""The raw-layer contract: Arrow schemas of the `raw` tables (README, "Raw tables").

CDR field names follow 3GPP TS 32.298 where one fits (served MSISDN/IMSI/IMEI, other party,
cause for termination, data volume up/down). Times are UTC.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


def doc_field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    """A field with its column doc (Iceberg keeps it as the column's comment)."""
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


# Strings drawn from a small set per batch (types, results, cells, and the served identities of
# the batch's subscriber shard) are dictionary-encoded in memory, zero-copy from lookup tables.
# Their logical type is string: Parquet and Iceberg store them as strings.
CATEGORY = pa.dictionary(pa.int32(), pa.string())
DICTIONARY_COLUMNS = frozenset(
    {
        "record_type",
        "served_msisdn",
        "served_imsi",
        "served_imei",
        "direction",
        "network_element_id",
        "result",
        "apn",
    }
)

# One table for the three record types. The raw layer keeps every row as generated, defects
# included: the clean layer decides what is valid, so columns are nullable here.
CDR_EVENT_FIELDS = (
    doc_field("record_id", pa.string(), "Unique record identifier (duplicates are a defect)"),
    doc_field("record_type", pa.string(), "voice | sms | data"),
    doc_field("served_msisdn", pa.string(), "Subscriber's number, E.164 without +"),
    doc_field("served_imsi", pa.string(), "Subscriber's SIM identity (MCC+MNC+MSIN)"),
    doc_field("served_imei", pa.string(), "Device identity (15 digits, Luhn)"),
    doc_field("other_party", pa.string(), "Called/calling number (voice, sms); null for data"),
    doc_field("direction", pa.string(), "MO (originated) | MT (terminated); null for data"),
    doc_field("start_time", TS, "Seizure (voice), submission (sms) or session start (data), UTC"),
    doc_field("end_time", TS, "Release or session end, UTC"),
    doc_field("duration_s", pa.int32(), "Holding time of answered calls / session length, seconds"),
    doc_field("network_element_id", pa.string(), "Serving cell (mobile) or access node (fixed)"),
    doc_field(
        "result", pa.string(), "answered|busy|no_answer|failed|dropped, delivered|failed, completed|failed"
    ),
    doc_field("cause_code", pa.int16(), "ITU-T Q.850 cause for termination"),
    doc_field("bytes_up", pa.int64(), "Data volume uplink (data only)"),
    doc_field("bytes_down", pa.int64(), "Data volume downlink (data only)"),
    doc_field("apn", pa.string(), "Access point name (mobile data only)"),
    doc_field("roaming", pa.bool_(), "Served subscriber was roaming"),
)
INGESTION_FIELDS = (
    doc_field("ingested_at", TS, "When the row was written to raw", nullable=False),
    doc_field("source", pa.string(), "batch | stream", nullable=False),
    doc_field(
        "batch_id",
        pa.string(),
        "The commit that landed the row: the generation batch id, or the stream's topic@end-offsets",
    ),
)
CDR_EVENT_SCHEMA = pa.schema(
    [f.with_type(CATEGORY) if f.name in DICTIONARY_COLUMNS else f for f in CDR_EVENT_FIELDS]
)
RAW_CDR_SCHEMA = pa.schema(CDR_EVENT_FIELDS + INGESTION_FIELDS)

REGIONS_SCHEMA = pa.schema(
    [
        doc_field("region_code", pa.string(), "Region code", nullable=False),
        doc_field("region_name", pa.string(), "Region name"),
        doc_field("population", pa.int64(), "Population used as weight"),
        doc_field("fixed_area_code", pa.string(), "Fixed-line area code"),
    ]
)

TARIFF_PLANS_SCHEMA = pa.schema(
    [
        doc_field("plan_id", pa.string(), "Tariff plan id", nullable=False),
        doc_field("plan_name", pa.string(), "Commercial name"),
        doc_field("segment", pa.string(), "prepaid | postpaid | enterprise"),
        doc_field("service", pa.string(), "4G-LTE | FTTH | ADSL"),
        doc_field("monthly_fee", pa.float64(), "Monthly fee"),
        doc_field("price_per_minute", pa.float64(), "Voice price per started minute"),
        doc_field("price_per_sms", pa.float64(), "Price per SMS"),
        doc_field("price_per_mb", pa.float64(), "Price per MB of data"),
        doc_field("currency", pa.string(), "ISO 4217 currency"),
    ]
)

SUBSCRIBERS_SCHEMA = pa.schema(
    [
        doc_field("subscriber_id", pa.int64(), "Subscriber key", nullable=False),
        doc_field("msisdn", pa.string(), "Number, E.164 without +"),
        doc_field("imsi", pa.string(), "SIM identity (mobile); null for fixed lines"),
        doc_field("imei", pa.string(), "Device identity (mobile); null for fixed lines"),
        doc_field("first_name", pa.string(), "Personal data: never leaves raw"),
        doc_field("last_name", pa.string(), "Personal data: never leaves raw"),
        doc_field("gender", pa.string(), "F | M"),
        doc_field("birth_date", pa.date32(), "Personal data: never leaves raw"),
        doc_field("region_code", pa.string(), "Home region"),
        doc_field("city", pa.string(), "Home city"),
        doc_field("segment", pa.string(), "prepaid | postpaid | enterprise"),
        doc_field("service", pa.string(), "4G-LTE | FTTH | ADSL"),
        doc_field("plan_id", pa.string(), "Tariff plan"),
        doc_field("activation_date", pa.date32(), "Line activation"),
        doc_field("status", pa.string(), "active | suspended"),
        doc_field("home_element_id", pa.string(), "Home cell (mobile) or access node (fixed)"),
    ]
)

NETWORK_ELEMENTS_SCHEMA = pa.schema(
    [
        doc_field("element_id", pa.string(), "Cell or access node id", nullable=False),
        doc_field("element_type", pa.string(), "cell | olt | dslam"),
        doc_field("technology", pa.string(), "4G-LTE | FTTH | ADSL"),
        doc_field("site_id", pa.string(), "Site (mobile) or central office (fixed)"),
        doc_field("region_code", pa.string(), "Region"),
        doc_field("city", pa.string(), "City"),
        doc_field("latitude", pa.float64(), "WGS84"),
        doc_field("longitude", pa.float64(), "WGS84"),
        doc_field("capacity_erlangs", pa.float64(), "Busy-hour voice capacity (cells)"),
    ]
)

# Table name in the raw namespace (settings ``namespaces.raw``) -> schema.
RAW_TABLES: dict[str, pa.Schema] = {
    "cdr": RAW_CDR_SCHEMA,
    "subscribers": SUBSCRIBERS_SCHEMA,
    "network_elements": NETWORK_ELEMENTS_SCHEMA,
    "tariff_plans": TARIFF_PLANS_SCHEMA,
    "regions": REGIONS_SCHEMA,
}

# The key each reference table is merged on when a batch brings a new world: the number for a
# subscriber (what CDRs carry), the id for the rest.
REFERENCE_KEYS: dict[str, str] = {
    "subscribers": "msisdn",
    "network_elements": "element_id",
    "tariff_plans": "plan_id",
    "regions": "region_code",
}


# The generator's ground truth of its incidents (``<raw>_truth.incidents``): one row per
# incident and element, per SIM for SIM-box rings.
INCIDENTS_SCHEMA = pa.schema(
    [
        doc_field("incident_id", pa.string(), "Incident: <type>-<number>"),
        doc_field("incident_type", pa.string(), "cell_outage | congestion | simbox | new_year_congestion"),
        doc_field("element_id", pa.string(), "The network element it hits (a SIM-box ring: its cell)"),
        doc_field("start_time", TS, "When it starts (UTC)"),
        doc_field("end_time", TS, "When it ends, excluded"),
        doc_field("subscriber_id", pa.int64(), "SIM-box rings: the SIM's subscriber"),
        doc_field("msisdn", pa.string(), "SIM-box rings: the SIM's number"),
    ]
)


def truth_namespace(raw_namespace: str) -> str:
    """Where the generator's ground truth of a raw namespace lives: beside it, never inside it."""
    return f"{raw_namespace}_truth"
