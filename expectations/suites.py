"""The expectation suites of the three gates. Thresholds are parameters (:class:`Thresholds`)."""

from __future__ import annotations

import great_expectations as gx
from great_expectations.expectations import Expectation
from pydantic import BaseModel, Field

from core.contracts.raw_tables import RAW_CDR_SCHEMA

E = gx.expectations
RECORD_TYPES = ["voice", "sms", "data"]


class Thresholds(BaseModel):
    """What a batch may contain before a gate stops the pipeline."""

    raw_max_defect_rate: float = Field(0.05, ge=0, le=1, description="Per rule, share of pending raw rows")
    raw_min_rows: int = Field(1, ge=0)


def raw_suite(t: Thresholds) -> list[Expectation]:
    """Raw: schema, allowed values and volume; defects tolerated up to a rate, not beyond."""
    mostly = 1 - t.raw_max_defect_rate
    return [
        E.ExpectTableColumnsToMatchSet(column_set=list(RAW_CDR_SCHEMA.names), exact_match=True),
        E.ExpectTableRowCountToBeBetween(min_value=t.raw_min_rows),
        E.ExpectColumnValuesToNotBeNull(column="record_id"),
        E.ExpectColumnValuesToNotBeNull(column="ingested_at"),
        E.ExpectColumnValuesToBeInSet(column="source", value_set=["batch", "stream"]),
        E.ExpectColumnValuesToBeInSet(column="record_type", value_set=RECORD_TYPES, mostly=mostly),
        E.ExpectColumnValuesToNotBeNull(column="record_type", mostly=mostly),
        E.ExpectColumnValuesToNotBeNull(column="served_msisdn", mostly=mostly),
        E.ExpectColumnValuesToNotBeNull(column="start_time", mostly=mostly),
        E.ExpectColumnValuesToNotBeNull(column="network_element_id", mostly=mostly),
        E.ExpectColumnValuesToBeUnique(column="record_id", mostly=mostly),
        E.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0, mostly=mostly),
        E.ExpectColumnValuesToBeBetween(column="bytes_down", min_value=0, mostly=mostly),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_time",
            column_B="start_time",
            or_equal=True,
            mostly=mostly,
            ignore_row_if="either_value_is_missing",
        ),
    ]


def _record_rules(results: list[str], with_duration: bool = True) -> list[Expectation]:
    rules = [
        E.ExpectColumnValuesToBeUnique(column="record_id"),
        E.ExpectColumnValuesToNotBeNull(column="record_id"),
        E.ExpectColumnValuesToNotBeNull(column="subscriber_key"),
        E.ExpectColumnValuesToNotBeNull(column="start_time"),
        E.ExpectColumnValuesToNotBeNull(column="network_element_id"),
        E.ExpectColumnValuesToBeInSet(column="result", value_set=results),
        E.UnexpectedRowsExpectation(
            description="every record joins a known subscriber",
            # GE substitutes {batch} as an aliased subquery: no alias of our own, hence NOT IN.
            unexpected_rows_query=(
                "SELECT * FROM {batch} "
                "WHERE subscriber_key NOT IN (SELECT subscriber_key FROM clean.int_subscribers)"
            ),
        ),
        E.UnexpectedRowsExpectation(
            description="every record joins a known network element",
            unexpected_rows_query=(
                "SELECT * FROM {batch} WHERE network_element_id NOT IN "
                "(SELECT element_id FROM clean.int_network_elements)"
            ),
        ),
    ]
    if with_duration:
        rules.append(E.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0))
    return rules


def clean_suites() -> dict[str, list[Expectation]]:
    """Clean: strict. Unique keys, no nulls in mandatory fields, valid ranges, joins resolve."""
    return {
        "int_voice_calls": [
            *_record_rules(["answered", "busy", "no_answer", "failed", "dropped"]),
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="end_time", column_B="start_time", or_equal=True
            ),
        ],
        "int_sms_messages": _record_rules(["delivered", "failed"], with_duration=False),
        "int_data_sessions": [
            *_record_rules(["completed", "failed"]),
            E.ExpectColumnValuesToBeBetween(column="bytes_up", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="bytes_down", min_value=0),
        ],
    }


def _reconcile(description: str, kpi_sql: str, source_sql: str) -> Expectation:
    """Rows come back when two totals differ (relative tolerance 1e-9 for floating sums)."""
    return E.UnexpectedRowsExpectation(
        description=description,
        unexpected_rows_query=(
            f"SELECT * FROM (SELECT ({kpi_sql}) AS kpi_total, ({source_sql}) AS source_total) "
            "WHERE abs(coalesce(kpi_total, 0) - coalesce(source_total, 0))"
            " > 1e-9 * greatest(1, abs(source_total))"
        ),
    )


def analytics_suites() -> dict[str, list[Expectation]]:
    """Analytics: KPI ranges and reconciliation of the marts with the clean layer."""
    return {
        "kpi_cell_hourly": [
            E.ExpectColumnValuesToBeBetween(column="asr", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="drop_call_rate", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="erlangs", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="data_mb", min_value=0),
            _reconcile(
                "call attempts equal clean voice records",
                "SELECT sum(call_attempts) FROM {batch}",
                "SELECT count(*) FROM clean.int_voice_calls",
            ),
            _reconcile(
                "SMS equal clean SMS records",
                "SELECT sum(sms_count) FROM {batch}",
                "SELECT count(*) FROM clean.int_sms_messages",
            ),
            _reconcile(
                "data volume equals clean bytes",
                "SELECT sum(data_mb) FROM {batch}",
                "SELECT sum(bytes_up + bytes_down) / 1e6 FROM clean.int_data_sessions",
            ),
        ],
        "kpi_region_daily": [
            E.ExpectColumnValuesToBeBetween(column="asr", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="arpu", min_value=0),
            _reconcile(
                "regional revenue equals billed charges",
                "SELECT sum(revenue) FROM {batch}",
                "SELECT sum(total_charge) FROM analytics.fct_billing_daily",
            ),
        ],
        "fct_voice_calls": [
            E.ExpectColumnValuesToBeUnique(column="record_id"),
            E.UnexpectedRowsExpectation(
                description="every call joins dim_subscriber and dim_network_element",
                unexpected_rows_query=(
                    "SELECT * FROM {batch} WHERE subscriber_key NOT IN (SELECT subscriber_key FROM "
                    "analytics.dim_subscriber) OR network_element_id NOT IN (SELECT element_id FROM "
                    "analytics.dim_network_element)"
                ),
            ),
            _reconcile(
                "calls in the fact equal clean voice records",
                "SELECT count(*) FROM {batch}",
                "SELECT count(*) FROM clean.int_voice_calls",
            ),
        ],
    }
