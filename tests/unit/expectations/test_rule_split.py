"""Each quality rule lives in one place: dbt tests (model integrity) or the GE gates (contract).

The split is written at the top of expectations/suites.py. This test reads the dbt yml files and
the gate suites and fails when the same (table, column, kind of rule) is on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import great_expectations as gx
import yaml
from great_expectations.expectations import Expectation

from core.settings import PROJECT_ROOT
from expectations.suites import Thresholds, analytics_suites, clean_suites, raw_suite

MODELS_DIR = PROJECT_ROOT / "dbt_project" / "models"
E = gx.expectations

Rule = tuple[str, str, str]  # (table, column, kind)

# The dbt generic tests and the GE expectations that state the same kind of rule.
GE_KINDS: dict[type[Expectation], str] = {
    E.ExpectColumnValuesToBeUnique: "unique",
    E.ExpectColumnValuesToNotBeNull: "not_null",
    E.ExpectColumnValuesToBeInSet: "accepted_values",
    E.ExpectColumnValuesToBeBetween: "accepted_range",
}
DBT_KINDS = frozenset(GE_KINDS.values())


def _test_names(column: dict) -> Iterable[str]:
    for test in [*column.get("data_tests", []), *column.get("tests", [])]:
        yield test if isinstance(test, str) else next(iter(test))


def dbt_rules(models_dir: Path = MODELS_DIR) -> set[Rule]:
    """(model or source.table, column, test) for every column test of the kinds compared."""
    rules: set[Rule] = set()
    for path in sorted(models_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        tables = [(model["name"], model) for model in document.get("models", [])]
        for source in document.get("sources", []):
            tables += [(f"{source['name']}.{table['name']}", table) for table in source.get("tables", [])]
        for name, table in tables:
            for column in table.get("columns", []):
                rules |= {(name, column["name"], t) for t in _test_names(column) if t in DBT_KINDS}
    return rules


def ge_rules(suites: dict[str, list[Expectation]]) -> set[Rule]:
    return {
        (table, expectation.column, GE_KINDS[type(expectation)])
        for table, expectations in suites.items()
        for expectation in expectations
        if type(expectation) in GE_KINDS
    }


def gate_suites() -> dict[str, list[Expectation]]:
    """Every gate's suites by the table they judge (the raw gate judges pending rows of raw.cdr)."""
    return {"raw.cdr": raw_suite(Thresholds()), **clean_suites(), **analytics_suites()}


def dbt_models(models_dir: Path = MODELS_DIR) -> set[str]:
    return {path.stem for path in models_dir.rglob("*.sql")}


def test_no_rule_is_both_a_dbt_test_and_a_gate_expectation() -> None:
    dbt, ge = dbt_rules(), ge_rules(gate_suites())
    assert dbt, "no dbt column tests found: has the yml layout changed?"
    assert ge, "no gate expectations found"
    both = sorted(dbt & ge)
    assert not both, (
        "rules written twice (see the split in expectations/suites.py); remove one side:\n  "
        + "\n  ".join(f"{table}.{column}: {kind}" for table, column, kind in both)
    )


def test_the_gates_judge_tables_that_dbt_builds() -> None:
    # A gate on a renamed or removed model would silently stop overlapping with the dbt side.
    unknown = set(clean_suites()) | set(analytics_suites())
    assert not unknown - dbt_models()


def test_the_comparison_sees_a_rule_written_twice() -> None:
    duplicated = {
        "voice_calls": [E.ExpectColumnValuesToBeUnique(column="record_id")],
        "network_anomalies": [
            E.ExpectColumnValuesToBeInSet(column="anomaly_type", value_set=["traffic_drop", "failure_spike"])
        ],
    }
    assert dbt_rules() & ge_rules(duplicated) == {
        ("voice_calls", "record_id", "unique"),
        ("network_anomalies", "anomaly_type", "accepted_values"),
    }


def test_keys_stay_with_dbt_and_ranges_with_the_gates() -> None:
    dbt, ge = dbt_rules(), ge_rules(gate_suites())
    for table in ("voice_calls", "sms_messages", "data_sessions", "fct_voice_calls"):
        assert {(table, "record_id", "unique"), (table, "record_id", "not_null")} <= dbt
    assert {
        ("fct_voice_calls", "charge", "accepted_range"),
        ("fct_data_sessions", "volume_mb", "accepted_range"),
    } <= ge
    assert not {kind for _, _, kind in dbt} & {"accepted_range"}
