"""The raw-layer contract: Arrow schemas of the `raw` tables (README, "Raw tables").

CDR field names follow 3GPP TS 32.298 where one fits (served MSISDN/IMSI/IMEI, other party,
cause for termination, data volume up/down). Times are UTC.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
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
    _field("record_id", pa.string(), "Unique record identifier (duplicates are a defect)"),
    _field("record_type", pa.string(), "voice | sms | data"),
    _field("served_msisdn", pa.string(), "Subscriber's number, E.164 without +"),
    _field("served_imsi", pa.string(), "Subscriber's SIM identity (MCC+MNC+MSIN)"),
    _field("served_imei", pa.string(), "Device identity (15 digits, Luhn)"),
    _field("other_party", pa.string(), "Called/calling number (voice, sms); null for data"),
    _field("direction", pa.string(), "MO (originated) | MT (terminated); null for data"),
    _field("start_time", TS, "Seizure (voice), submission (sms) or session start (data), UTC"),
    _field("end_time", TS, "Release or session end, UTC"),
    _field("duration_s", pa.int32(), "Holding time of answered calls / session length, seconds"),
    _field("network_element_id", pa.string(), "Serving cell (mobile) or access node (fixed)"),
    _field(
        "result", pa.string(), "answered|busy|no_answer|failed|dropped, delivered|failed, completed|failed"
    ),
    _field("cause_code", pa.int16(), "ITU-T Q.850 cause for termination"),
    _field("bytes_up", pa.int64(), "Data volume uplink (data only)"),
    _field("bytes_down", pa.int64(), "Data volume downlink (data only)"),
    _field("apn", pa.string(), "Access point name (mobile data only)"),
    _field("roaming", pa.bool_(), "Served subscriber was roaming"),
)
INGESTION_FIELDS = (
    _field("ingested_at", TS, "When the row was written to raw", nullable=False),
    _field("source", pa.string(), "batch | stream", nullable=False),
    _field("batch_id", pa.string(), "Deterministic id of the generation batch (batch ingestion)"),
)
CDR_EVENT_SCHEMA = pa.schema(
    [f.with_type(CATEGORY) if f.name in DICTIONARY_COLUMNS else f for f in CDR_EVENT_FIELDS]
)
RAW_CDR_SCHEMA = pa.schema(CDR_EVENT_FIELDS + INGESTION_FIELDS)

REGIONS_SCHEMA = pa.schema(
    [
        _field("region_code", pa.string(), "Region code", nullable=False),
        _field("region_name", pa.string(), "Region name"),
        _field("population", pa.int64(), "Population used as weight"),
        _field("fixed_area_code", pa.string(), "Fixed-line area code"),
    ]
)

TARIFF_PLANS_SCHEMA = pa.schema(
    [
        _field("plan_id", pa.string(), "Tariff plan id", nullable=False),
        _field("plan_name", pa.string(), "Commercial name"),
        _field("segment", pa.string(), "prepaid | postpaid | enterprise"),
        _field("service", pa.string(), "4G-LTE | FTTH | ADSL"),
        _field("monthly_fee", pa.float64(), "Monthly fee"),
        _field("price_per_minute", pa.float64(), "Voice price per started minute"),
        _field("price_per_sms", pa.float64(), "Price per SMS"),
        _field("price_per_mb", pa.float64(), "Price per MB of data"),
        _field("currency", pa.string(), "ISO 4217 currency"),
    ]
)

SUBSCRIBERS_SCHEMA = pa.schema(
    [
        _field("subscriber_id", pa.int64(), "Subscriber key", nullable=False),
        _field("msisdn", pa.string(), "Number, E.164 without +"),
        _field("imsi", pa.string(), "SIM identity (mobile); null for fixed lines"),
        _field("imei", pa.string(), "Device identity (mobile); null for fixed lines"),
        _field("first_name", pa.string(), "Personal data: never leaves raw"),
        _field("last_name", pa.string(), "Personal data: never leaves raw"),
        _field("gender", pa.string(), "F | M"),
        _field("birth_date", pa.date32(), "Personal data: never leaves raw"),
        _field("region_code", pa.string(), "Home region"),
        _field("city", pa.string(), "Home city"),
        _field("segment", pa.string(), "prepaid | postpaid | enterprise"),
        _field("service", pa.string(), "4G-LTE | FTTH | ADSL"),
        _field("plan_id", pa.string(), "Tariff plan"),
        _field("activation_date", pa.date32(), "Line activation"),
        _field("status", pa.string(), "active | suspended"),
        _field("home_element_id", pa.string(), "Home cell (mobile) or access node (fixed)"),
    ]
)

NETWORK_ELEMENTS_SCHEMA = pa.schema(
    [
        _field("element_id", pa.string(), "Cell or access node id", nullable=False),
        _field("element_type", pa.string(), "cell | olt | dslam"),
        _field("technology", pa.string(), "4G-LTE | FTTH | ADSL"),
        _field("site_id", pa.string(), "Site (mobile) or central office (fixed)"),
        _field("region_code", pa.string(), "Region"),
        _field("city", pa.string(), "City"),
        _field("latitude", pa.float64(), "WGS84"),
        _field("longitude", pa.float64(), "WGS84"),
        _field("capacity_erlangs", pa.float64(), "Busy-hour voice capacity (cells)"),
    ]
)

# Table name in namespace `raw` -> schema.
RAW_TABLES: dict[str, pa.Schema] = {
    "cdr": RAW_CDR_SCHEMA,
    "subscribers": SUBSCRIBERS_SCHEMA,
    "network_elements": NETWORK_ELEMENTS_SCHEMA,
    "tariff_plans": TARIFF_PLANS_SCHEMA,
    "regions": REGIONS_SCHEMA,
}
