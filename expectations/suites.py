"""The expectation suites of the three gates. Thresholds are parameters (:class:`Thresholds`).

Where a quality rule lives - each rule in exactly one place:

* **dbt tests** (``dbt_project/models/**/_*.yml``) check *model integrity*: keys (unique, not null),
  relationships between models, accepted values of enumerations a model derives itself
  (``reject_reason``, ``anomaly_type``), a model's own arithmetic (billing total = sum of its parts,
  answered <= attempts) and unit tests of formulas. They run inside ``dbt build``.
* **These gates** check the *data contract and business expectations* of each layer: the raw
  contract (schema, volume, defect rate tolerated), value domains of record fields (results),
  mandatory non-key fields (start_time, network_element_id), ranges (durations, bytes, charges,
  volumes >= 0, KPI rates in [0, 1]), end >= start, and reconciliations between layers.

``tests/unit/expectations/test_rule_split.py`` fails when a (table, column, kind) rule is on both sides.
"""

from __future__ import annotations

import great_expectations as gx
from great_expectations.expectations import Expectation
from pydantic import BaseModel, Field

from core.contracts.raw_tables import RAW_CDR_SCHEMA
from core.settings import NamespaceSettings

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
        # The commit a row came in: what the pipeline takes new rows by.
        E.ExpectColumnValuesToNotBeNull(column="batch_id"),
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


def _record_rules(results: list[str]) -> list[Expectation]:
    """What every clean record table promises beyond its keys (dbt tests keys and joins)."""
    return [
        E.ExpectColumnValuesToNotBeNull(column="start_time"),
        E.ExpectColumnValuesToNotBeNull(column="network_element_id"),
        E.ExpectColumnValuesToBeInSet(column="result", value_set=results),
    ]


def _timed_rules() -> list[Expectation]:
    """Records with a duration: not negative, and they do not end before they start."""
    return [
        E.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end_time", column_B="start_time", or_equal=True),
    ]


def clean_suites() -> dict[str, list[Expectation]]:
    """Clean: strict. Results in their domain, mandatory fields present, valid ranges and times."""
    return {
        "voice_calls": [
            *_record_rules(["answered", "busy", "no_answer", "failed", "dropped"]),
            *_timed_rules(),
        ],
        "sms_messages": _record_rules(["delivered", "failed"]),
        "data_sessions": [
            *_record_rules(["completed", "failed"]),
            *_timed_rules(),
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


def analytics_suites(namespaces: NamespaceSettings | None = None) -> dict[str, list[Expectation]]:
    """Analytics: KPI and money ranges, and reconciliation of the marts with the clean layer."""
    ns = namespaces or NamespaceSettings()
    clean, analytics = ns.clean_candidate, ns.analytics_candidate  # audited before publication
    return {
        "kpi_cell_hourly": [
            E.ExpectColumnValuesToBeBetween(column="asr", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="drop_call_rate", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="erlangs", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="data_mb", min_value=0),
            _reconcile(
                "call attempts equal clean voice records",
                "SELECT sum(call_attempts) FROM {batch}",
                f"SELECT count(*) FROM {clean}.voice_calls",
            ),
            _reconcile(
                "SMS equal clean SMS records",
                "SELECT sum(sms_count) FROM {batch}",
                f"SELECT count(*) FROM {clean}.sms_messages",
            ),
            _reconcile(
                "data volume equals clean bytes",
                "SELECT sum(data_mb) FROM {batch}",
                f"SELECT sum(bytes_up + bytes_down) / 1e6 FROM {clean}.data_sessions",
            ),
        ],
        "kpi_region_daily": [
            E.ExpectColumnValuesToBeBetween(column="asr", min_value=0, max_value=1),
            E.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="arpu", min_value=0),
            _reconcile(
                "regional revenue equals billed charges",
                "SELECT sum(revenue) FROM {batch}",
                f"SELECT sum(total_charge) FROM {analytics}.fct_billing_daily",
            ),
        ],
        "fct_voice_calls": [
            E.ExpectColumnValuesToNotBeNull(column="charge"),
            E.ExpectColumnValuesToBeBetween(column="charge", min_value=0),
            _reconcile(
                "calls in the fact equal clean voice records",
                "SELECT count(*) FROM {batch}",
                f"SELECT count(*) FROM {clean}.voice_calls",
            ),
        ],
        "fct_data_sessions": [
            E.ExpectColumnValuesToBeBetween(column="volume_mb", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="charge", min_value=0),
        ],
    }


def _interval_rules() -> list[Expectation]:
    """A forecast's interval holds its point, and nothing forecast is negative."""
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeBetween(column="lower", min_value=0),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="point", column_B="lower", or_equal=True),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="upper", column_B="point", or_equal=True),
    ]


def forecast_suites(
    namespaces: NamespaceSettings | None = None, horizon_days: int = 7, methods: int = 2
) -> dict[str, list[Expectation]]:
    """Forecasts: intervals hold their points, every region has every day ahead by every method."""
    ns = namespaces or NamespaceSettings()
    analytics = ns.analytics_candidate
    return {
        "forecast_region_daily": [
            *_interval_rules(),
            E.ExpectColumnValuesToBeBetween(column="horizon_days", min_value=1, max_value=horizon_days),
            E.UnexpectedRowsExpectation(
                description=f"every region has {horizon_days} days ahead of each metric by {methods} methods",
                unexpected_rows_query=(
                    "WITH expected AS ("
                    f"SELECT r.region_code, m.metric FROM (SELECT DISTINCT region_code FROM {analytics}"
                    ".kpi_region_daily) AS r CROSS JOIN (SELECT DISTINCT metric FROM {batch}) AS m), "
                    "made AS (SELECT region_code, metric, count(DISTINCT forecast_date) AS days, "
                    "count(*) AS forecast_rows FROM {batch} GROUP BY 1, 2) "
                    "SELECT e.region_code, e.metric, made.days, made.forecast_rows FROM expected AS e "
                    "LEFT JOIN made ON made.region_code = e.region_code AND made.metric = e.metric "
                    f"WHERE coalesce(made.days, 0) <> {horizon_days} "
                    f"OR coalesce(made.forecast_rows, 0) <> {horizon_days * methods}"
                ),
            ),
        ],
        "forecast_cell_busy_hour": [
            *_interval_rules(),
            E.ExpectColumnValuesToBeBetween(column="horizon_days", min_value=1, max_value=horizon_days),
        ],
        "forecast_backtest": [
            E.ExpectColumnValuesToBeBetween(column="smape", min_value=0, max_value=2),
            E.ExpectColumnValuesToBeBetween(column="coverage_hit", min_value=0, max_value=1),
        ],
    }
