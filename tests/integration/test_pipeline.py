"""The pipeline on the real stack: raw -> clean -> analytics behind the Great Expectations gates.

Runs in order on one seeded data set: a first full build, checks of the rejected CDRs, KPIs and
anomalies against independent computations, an incremental batch, then a bad batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from pydantic import BaseModel, SecretStr

from app.forecasts import REGION_METRICS
from app.pipeline import prepare_pending_view
from app.pipeline_lock import PIPELINE_LOCK_KEY
from app.publication import current_snapshots, latest_publication
from app.transform import DBT_PROJECT_DIR, PROFILES_FILE, SETTINGS_MACRO_FILE, write_dbt_settings
from app.ui import ops
from core import clients
from core.exceptions import PrerequisiteError
from core.run_metrics import read_samples
from core.settings import LakehouseSettings, load_settings
from forecasting.series import HORIZON_DAYS
from generator.config import DEFAULT_CONFIG
from tests.integration.alerts import Webhook
from tests.integration.conftest import LAKEHOUSE, run_cli, unique
from tests.integration.reconcile import batches_not_published_once, query
from tests.integration.test_stream import events

GENERATE = ["generate", "--subscribers", "3000", "--seed", "5"]
# GateFailed has no `for`: a scrape, an evaluation and Alertmanager's group wait (or interval).
GATE_ALERT_TIMEOUT_S = 90


def read_clean(settings: LakehouseSettings, table: str) -> pd.DataFrame:
    """Read the published snapshot through PyIceberg, independently of Trino."""
    catalog = clients.iceberg_catalog(settings)
    name = f"{settings.namespaces.clean_candidate}.{table}"
    published = latest_publication(settings, catalog)
    assert published is not None
    return catalog.load_table(name).scan(snapshot_id=published.snapshots[name]).to_pandas()


@pytest.fixture(scope="module", autouse=True)
def _restore_dbt_settings() -> Iterator[None]:
    """`lakehouse pipeline` renders the test stack's dbt profile and settings macro into
    dbt_project/; render the developer's own back afterwards, so a plain `dbt run` still works
    (or, on a fresh clone with no settings yet, leave none pointing at the stopped test stack)."""
    yield
    developer = load_settings()
    if developer.pseudonym_key.get_secret_value():
        write_dbt_settings(developer)
    else:
        for path in (DBT_PROJECT_DIR / PROFILES_FILE, DBT_PROJECT_DIR / SETTINGS_MACRO_FILE):
            path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def first_build(settings: LakehouseSettings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    report = tmp_path_factory.mktemp("pipeline") / "report.json"
    run_cli(settings, *GENERATE, "--report", str(report))
    run = run_cli(settings, "pipeline")
    assert "pipeline succeeded" in run.stdout
    return json.loads(report.read_text())


def test_every_defect_lands_in_rejected_cdrs_with_its_reason_and_nothing_else(
    settings: LakehouseSettings, first_build: dict
) -> None:
    truth = query(
        settings,
        f"SELECT record_id, defect_type FROM raw_truth.defects WHERE batch_id = '{first_build['batch_id']}'",
    )
    rejected = query(
        settings, f"SELECT record_id, reject_reason FROM {settings.namespaces.clean}.rejected_cdrs"
    )
    assert len(truth) == sum(first_build["defects"].values()) > 1000
    assert set(map(tuple, rejected.values)) == set(map(tuple, truth.values))


def test_the_run_left_each_step_and_gate_as_metrics(settings: LakehouseSettings, first_build: dict) -> None:
    samples = read_samples(settings)["pipeline"]
    gates = {s.labels["gate"]: s.value for s in samples if s.name == "lakehouse_pipeline_gate_success"}
    # The raw gate runs only when raw has rows no run has checked yet (first_build made some).
    assert {"clean", "analytics", "forecast"} <= set(gates) <= {"raw", "clean", "analytics", "forecast"}
    assert all(passed == 1.0 for passed in gates.values()), gates
    steps = {
        s.labels["step"]: s.value for s in samples if s.name == "lakehouse_pipeline_step_duration_seconds"
    }
    assert {"dbt build clean", "dbt build analytics", "forecast", "publish"} <= set(steps)
    assert all(seconds > 0 for seconds in steps.values())
    last = {s.name: s.value for s in samples if not s.labels}
    assert last["lakehouse_pipeline_last_run_success"] == 1.0
    assert (
        last["lakehouse_pipeline_last_success_timestamp_seconds"]
        == last["lakehouse_pipeline_last_run_timestamp_seconds"]
    )


@pytest.mark.object_store
def test_clean_layer_holds_each_valid_record_once_without_direct_identifiers(
    settings: LakehouseSettings, first_build: dict
) -> None:
    valid = first_build["rows"] - sum(first_build["defects"].values())
    clean = settings.namespaces.clean
    counts = query(
        settings,
        f"SELECT (SELECT count(*) FROM {clean}.voice_calls) + (SELECT count(*) FROM {clean}.sms_messages)"
        f" + (SELECT count(*) FROM {clean}.data_sessions) AS n",
    )
    assert counts.n[0] == valid
    columns = set(query(settings, f"SHOW COLUMNS FROM {clean}.subscribers").Column)
    assert not columns & {"msisdn", "first_name", "last_name", "birth_date", "imsi", "imei"}
    keys = query(settings, f"SELECT subscriber_key FROM {clean}.subscribers LIMIT 5").subscriber_key
    assert all(len(k) == 64 for k in keys), "HMAC-SHA-256 hex pseudonyms"


def test_the_pseudonym_key_is_in_no_query_text_dbt_file_or_log_yet_keys_the_pseudonyms(
    settings: LakehouseSettings, first_build: dict
) -> None:
    run_cli(settings, "pipeline")  # rebuilds clean.subscribers: pseudonymising SQL just ran
    key = settings.pseudonym_key.get_secret_value()
    texts = list(query(settings, "SELECT query FROM system.runtime.queries")["query"])
    assert any("hmac_sha256" in text for text in texts), "the pipeline's SQL is in the history"
    assert not [text for text in texts if key in text]
    places = [DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs", settings.logs_dir]
    files = [path for place in places if place.exists() for path in place.rglob("*") if path.is_file()]
    assert len(files) > 10
    assert not [path for path in files if key.encode() in path.read_bytes()]

    # Still HMAC-SHA-256 keyed with it: a raw number's pseudonym is in the clean layer.
    raw, clean = settings.namespaces.raw, settings.namespaces.clean
    (msisdn,) = query(settings, f"SELECT min(msisdn) AS m FROM {raw}.subscribers").m
    expected = hmac.new(key.encode(), msisdn.encode(), hashlib.sha256).hexdigest().upper()
    found = query(
        settings, f"SELECT count(*) AS n FROM {clean}.subscribers WHERE subscriber_key = '{expected}'"
    )
    assert found.n[0] == 1


def every_secret(settings: BaseModel) -> list[str]:
    """The value of every secret setting that is set, walking the whole settings tree."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(every_secret(value))
    return found


def test_no_secret_is_on_any_command_line_or_in_any_log(
    settings: LakehouseSettings, first_build: dict
) -> None:
    values = every_secret(settings)
    # The key, PostgreSQL, Trino (3 users + shared secret), Kafka (3), S3 (4 identities + root).
    assert len(values) >= 13 and all(len(value) >= 16 for value in values)
    command_lines = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    assert any("io.trino.server.TrinoServer" in line for line in command_lines)
    assert not [line[:80] for line in command_lines for value in values if value in line]
    places = [settings.logs_dir, DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs", settings.conf_dir]
    files = [path for place in places if place.exists() for path in place.rglob("*") if path.is_file()]
    assert any(path.name == "trino.log" for path in files) and len(files) > 10
    assert not [str(path) for path in files for value in values if value.encode() in path.read_bytes()]


def test_the_analyst_reads_every_mart_and_no_identifier_of_a_person(
    settings: LakehouseSettings, first_build: dict
) -> None:
    t, ns = settings.trino, settings.namespaces
    analyst = {"user": t.analyst_user, "password": t.analyst_password, "catalog": t.readonly_catalog}
    marts = sorted(query(settings, f"SHOW TABLES FROM {ns.analytics}", **analyst).Table)
    assert {"fct_voice_calls", "dim_subscriber", "kpi_cell_hourly"} <= set(marts), marts
    identifying = {"msisdn", "other_party", "first_name", "last_name", "birth_date", "imsi", "imei"}
    for mart in marts:
        rows = query(settings, f"SELECT * FROM {ns.analytics}.{mart} LIMIT 5", **analyst)
        assert not set(rows.columns) & identifying, mart
        assert len(rows) > 0, f"{mart} is empty: nothing would prove the analyst can read it"
    # No text column of any mart holds a subscriber's number in clear.
    texts = query(
        settings,
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{ns.analytics}' AND data_type LIKE 'varchar%'",
    )
    numbers = f"(SELECT msisdn FROM {ns.raw}.subscribers)"
    leaks = [
        f"{row.table_name}.{row.column_name}"
        for row in texts.itertuples()
        if query(
            settings,
            f"SELECT count(*) AS n FROM {ns.analytics}.{row.table_name} WHERE {row.column_name} IN {numbers}",
        ).n[0]
    ]
    assert len(texts) > 10 and not leaks


@pytest.mark.object_store
def test_cell_hour_kpis_equal_an_independent_computation(
    settings: LakehouseSettings, first_build: dict
) -> None:
    voice = read_clean(settings, "voice_calls")
    voice["hour_start"] = voice.start_time.dt.floor("h")
    answered_seconds = voice.duration_s.where(voice.is_answered, 0)
    expected = (
        voice.assign(answered_seconds=answered_seconds)
        .groupby(["network_element_id", "hour_start"])
        .agg(
            call_attempts=("record_id", "size"),
            answered_calls=("is_answered", "sum"),
            dropped_calls=("is_dropped", "sum"),
            answered_seconds=("answered_seconds", "sum"),
        )
        .reset_index()
    )
    expected["asr"] = expected.answered_calls / expected.call_attempts
    expected["acd_seconds"] = expected.answered_seconds / expected.answered_calls.replace(0, np.nan)
    expected["drop_call_rate"] = expected.dropped_calls / expected.answered_calls.replace(0, np.nan)
    expected["erlangs"] = expected.answered_seconds / 3600

    actual = query(
        settings, f"SELECT * FROM {settings.namespaces.analytics}.kpi_cell_hourly WHERE call_attempts > 0"
    )
    actual["hour_start"] = pd.to_datetime(actual.hour_start, utc=True)
    merged = expected.merge(
        actual, on=["network_element_id", "hour_start"], suffixes=("", "_mart"), validate="1:1"
    )
    assert len(merged) == len(expected) == len(actual)
    for column in (
        "call_attempts",
        "answered_calls",
        "dropped_calls",
        "asr",
        "acd_seconds",
        "drop_call_rate",
        "erlangs",
    ):
        pd.testing.assert_series_equal(
            merged[column].astype(float), merged[f"{column}_mart"].astype(float), check_names=False, rtol=1e-9
        )


def test_revenue_per_region_day_equals_rating_the_clean_records(
    settings: LakehouseSettings, first_build: dict
) -> None:
    subscribers = read_clean(settings, "subscribers")
    plans = read_clean(settings, "tariff_plans")
    rated = subscribers.merge(plans, on="plan_id")[
        ["subscriber_key", "region_code", "price_per_minute", "price_per_sms", "price_per_mb"]
    ]

    voice = read_clean(settings, "voice_calls").merge(rated, on="subscriber_key")
    billable = (voice.direction == "MO") & voice.is_answered
    voice["charge"] = np.where(billable, np.ceil(voice.duration_s / 60) * voice.price_per_minute, 0.0)
    sms = read_clean(settings, "sms_messages").merge(rated, on="subscriber_key")
    sms["charge"] = np.where((sms.direction == "MO") & sms.is_delivered, sms.price_per_sms, 0.0)
    data = read_clean(settings, "data_sessions").merge(rated, on="subscriber_key")
    data["charge"] = (data.bytes_up + data.bytes_down) / 1e6 * data.price_per_mb
    usage = pd.concat([frame[["region_code", "start_time", "charge"]] for frame in (voice, sms, data)])
    usage["local_date"] = usage.start_time.dt.tz_convert(settings.time_zone).dt.date
    expected = usage.groupby(["region_code", "local_date"]).charge.sum()

    actual = query(
        settings,
        f"SELECT region_code, local_date, revenue FROM {settings.namespaces.analytics}.kpi_region_daily",
    )
    actual = actual.set_index(["region_code", "local_date"]).revenue.sort_index()
    pd.testing.assert_series_equal(expected.sort_index(), actual.astype(float), check_names=False, rtol=1e-9)


def test_anomalies_find_every_injected_outage_and_congestion(
    settings: LakehouseSettings, first_build: dict
) -> None:
    incidents = query(
        settings,
        "SELECT incident_id, incident_type, element_id, start_time, end_time FROM raw_truth.incidents "
        f"WHERE incident_type IN ('cell_outage', 'congestion') AND batch_id = '{first_build['batch_id']}'",
    )
    assert len(incidents) == 6
    expected_kind = {"cell_outage": ("traffic_drop", "failure_spike"), "congestion": ("failure_spike",)}
    for incident in incidents.itertuples():
        found = query(
            settings,
            f"SELECT anomaly_type FROM {settings.namespaces.analytics}.network_anomalies "
            f"WHERE network_element_id = '{incident.element_id}' "
            f"AND hour_start >= date_trunc('hour', TIMESTAMP '{incident.start_time}') "
            f"AND hour_start < TIMESTAMP '{incident.end_time}'",
        )
        assert set(found.anomaly_type) & set(expected_kind[incident.incident_type]), incident.incident_id


def test_the_detectors_score_high_against_the_generators_truth(
    settings: LakehouseSettings, first_build: dict
) -> None:
    # Seed 5 at 3,000 lines: a seeded set the thresholds were not tuned on (the default seed at
    # 20,000 lines scores 1.0 everywhere). Its quiet cells make single hours borderline, so the
    # per-incident-type recall (8-20 hours each) is held to 0.85, everything else to 0.9.
    scores = query(settings, f"SELECT * FROM {settings.namespaces.analytics}.anomaly_scores")
    score = {(row.metric, row.type_name, row.unit): row for row in scores.itertuples()}
    cell_hours = {key[1]: row for key, row in score.items() if key[2] == "cell_hour"}
    assert {"traffic_drop", "failure_spike", "cell_outage", "congestion", "new_year_congestion"} <= set(
        cell_hours
    ), cell_hours
    for (metric, type_name, unit), row in score.items():
        assert row.scored > 0, (metric, type_name, unit)
        floor = 0.85 if metric == "recall" and type_name != "all" and unit == "cell_hour" else 0.9
        assert row.score >= floor, (metric, type_name, unit, row.matched, row.scored)
    ring = score[("recall", "simbox", "line")]
    assert ring.scored == 12 and ring.matched == 12, "every SIM-box line found"


def test_forecasts_cover_the_next_days_of_every_region_and_cell_beside_the_baseline(
    settings: LakehouseSettings, first_build: dict
) -> None:
    analytics = settings.namespaces.analytics
    kpis = query(settings, f"SELECT * FROM {analytics}.kpi_region_daily")
    last = kpis.local_date.max()
    ahead = [last + timedelta(days=d) for d in range(1, HORIZON_DAYS + 1)]
    forecasts = query(settings, f"SELECT * FROM {analytics}.forecast_region_daily")
    assert set(forecasts.region_code) == set(kpis.region_code) and set(forecasts.metric) == set(
        REGION_METRICS
    )
    for (region, metric), series in forecasts.groupby(["region_code", "metric"]):
        assert {m.split(" ")[0] for m in series.method} == {"ets", "seasonal_naive"}, (region, metric)
        for method, days in series.groupby("method"):
            assert sorted(days.forecast_date) == ahead, (region, metric, method)
    assert ((forecasts.lower <= forecasts.point) & (forecasts.point <= forecasts.upper)).all()
    assert (forecasts.lower >= 0).all() and (forecasts.upper > forecasts.lower).any()
    # The baseline of a history shorter than a week repeats its last day: that day's KPI.
    naive = forecasts[(forecasts.method == "seasonal_naive") & (forecasts.metric == "call_attempts")]
    last_day = kpis[kpis.local_date == last].set_index("region_code").call_attempts
    assert (naive.set_index("region_code").point == last_day.reindex(naive.region_code)).all()

    cells = query(settings, f"SELECT * FROM {analytics}.forecast_cell_busy_hour")
    busiest = (
        query(
            settings,
            f"SELECT network_element_id, max(erlangs) AS erlangs FROM {analytics}.kpi_cell_hourly "
            f"WHERE local_date = DATE '{last}' GROUP BY 1",
        )
        .set_index("network_element_id")
        .erlangs
    )
    assert set(cells.network_element_id) >= set(busiest.index) and len(busiest) > 10
    naive_cells = cells[(cells.method == "seasonal_naive") & (cells.horizon_days == 1)]
    assert np.allclose(naive_cells.set_index("network_element_id").point.reindex(busiest.index), busiest)

    backtest = query(settings, f"SELECT * FROM {analytics}.forecast_backtest")
    assert set(backtest.target) == {"region_daily", "cell_busy_hour"}
    assert backtest.smape.between(0, 2).all() and (backtest.test_days >= 1).all()
    accuracy = query(settings, f"SELECT * FROM {analytics}.forecast_accuracy")
    region = accuracy[accuracy.target == "region_daily"]
    assert {m.split(" ")[0] for m in region.method} == {"ets", "seasonal_naive"}
    assert (region.series > 0).all()


def test_an_incremental_run_adds_exactly_the_new_rows(
    settings: LakehouseSettings, first_build: dict, tmp_path: Path
) -> None:
    clean, analytics = settings.namespaces.clean, settings.namespaces.analytics
    kpis = f"SELECT count(*) AS n, sum(call_attempts) AS attempts FROM {analytics}.kpi_cell_hourly"
    before = query(settings, kpis)
    voice_before = query(settings, f"SELECT count(*) AS n FROM {clean}.voice_calls").n[0]
    report = tmp_path / "more.json"
    run_cli(settings, *GENERATE, "--start", "2026-01-02", "--days", "1", "--report", str(report))
    more = json.loads(report.read_text())
    run = run_cli(settings, "pipeline")
    assert "raw gate" in run.stdout

    voice_after = query(settings, f"SELECT count(*) AS n FROM {clean}.voice_calls").n[0]
    rejected_voice = query(
        settings,
        f"SELECT count(*) AS n FROM {clean}.rejected_cdrs "
        f"WHERE batch_id = '{more['batch_id']}' AND record_type = 'voice'",
    ).n[0]
    # Every new voice row is either accepted once or rejected with a reason.
    assert voice_after - voice_before == more["by_type"]["voice"] - rejected_voice > 0
    after = query(settings, kpis)
    assert after.attempts[0] - before.attempts[0] == voice_after - voice_before
    assert after.n[0] > before.n[0]


def test_a_batch_of_another_world_is_merged_and_older_cdrs_keep_joining(
    settings: LakehouseSettings, first_build: dict
) -> None:
    """Another seed is another set of subscribers and cells: merged by key into the reference
    tables, so the first world's CDRs still join (dbt's relationship tests run in the build)."""
    raw, clean = settings.namespaces.raw, settings.namespaces.clean
    (before,) = query(settings, f"SELECT count(*) AS n FROM {raw}.subscribers").n
    run_cli(
        settings, "generate", "--subscribers", "3000", "--seed", "7", "--days", "1", "--start", "2025-12-30"
    )
    (after,) = query(settings, f"SELECT count(DISTINCT msisdn) AS n FROM {raw}.subscribers").n
    (rows,) = query(settings, f"SELECT count(*) AS n FROM {raw}.subscribers").n
    assert rows == after > before  # merged on msisdn: no number twice, the first world kept
    run = run_cli(settings, "pipeline")
    assert "pipeline succeeded" in run.stdout
    (published,) = query(settings, f"SELECT count(*) AS n FROM {clean}.subscribers").n
    assert published == after


def test_a_second_pipeline_exits_while_one_holds_the_lock(settings: LakehouseSettings) -> None:
    """The lock is PostgreSQL's, so it is seen from any machine sharing the catalog; here the
    test's own session plays the running pipeline."""
    holder = clients.postgres_connection(settings)
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (PIPELINE_LOCK_KEY,))
        began = time.monotonic()
        busy = run_cli(settings, "pipeline", "--wait", "2", check=False)
        waited = time.monotonic() - began
        assert busy.returncode == 10, busy.stderr
        assert "another pipeline is running" in busy.stderr
        assert "Traceback" not in busy.stderr
        assert waited >= 2
        assert run_cli(settings, "pipeline", check=False).returncode == 10
    finally:
        holder.close()  # a holder that ends, however it ends, frees the lock
    run = run_cli(settings, "pipeline")
    assert "pipeline succeeded" in run.stdout


def published_state(settings: LakehouseSettings) -> dict:
    """What readers see and what the next run starts from: the last publication, the snapshot
    each reader's view pins, every owned table's current snapshot, and the published counts."""
    catalog = clients.iceberg_catalog(settings)
    publication = latest_publication(settings, catalog)
    views = query(
        settings,
        "SELECT table_schema || '.' || table_name AS name, view_definition FROM information_schema.views "
        f"WHERE table_schema IN ('{settings.namespaces.clean}', '{settings.namespaces.analytics}')",
    )
    counts = query(
        settings,
        f"SELECT (SELECT count(*) FROM {settings.namespaces.clean}.voice_calls) AS voice, "
        f"(SELECT sum(call_attempts) FROM {settings.namespaces.analytics}.kpi_cell_hourly) AS attempts",
    )
    return {
        "publication": publication,
        "views": dict(zip(views.name, views.view_definition, strict=True)),
        "tables": current_snapshots(settings, catalog),
        "counts": counts.to_dict("records"),
    }


def insert_copies(settings: LakehouseSettings, batch_id: str, where: str, changes: dict[str, str]) -> int:
    """Land a new commit in raw.cdr: copies of accepted rows matching ``where``, new record ids,
    columns in ``changes`` replaced by SQL expressions. Returns the rows landed."""
    raw = settings.namespaces.raw
    columns = list(query(settings, f"SHOW COLUMNS FROM {raw}.cdr").Column)
    replaced = {
        "record_id": f"'{batch_id}-' || record_id",
        "batch_id": f"'{batch_id}'",
        "ingested_at": "current_timestamp",
        **changes,
    }
    select = ", ".join(replaced.get(c, c) for c in columns)
    checked = f"{settings.namespaces.intermediate}.int_cdr_checked"
    accepted = f"SELECT record_id FROM {checked} WHERE reject_reason IS NULL"
    # One copy per record id: raw also holds the duplicates the generator injects.
    query(
        settings,
        f"INSERT INTO {raw}.cdr SELECT {select} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY record_id ORDER BY ingested_at) AS copy FROM {raw}.cdr) "
        f"WHERE copy = 1 AND record_id IN ({accepted}) AND {where}",
    )
    (landed,) = query(settings, f"SELECT count(*) AS n FROM {raw}.cdr WHERE batch_id = '{batch_id}'").n
    return int(landed)


def assert_stops_at(settings: LakehouseSettings, gate: str, named: str) -> None:
    """A run fails at ``gate`` (exit 8, the failed rule named, no traceback), publishing nothing."""
    before = published_state(settings)
    run = run_cli(settings, "pipeline", check=False)
    assert run.returncode == 8, (run.stdout[-2000:], run.stderr[-2000:])
    assert f"{gate} gate failed" in run.stderr
    assert named in run.stderr, "the failed expectation is named"
    assert "Traceback" not in run.stderr
    assert published_state(settings) == before


def clean_matches_raw(settings: LakehouseSettings) -> None:
    """Every raw commit is published once: accepted + rejected rows == raw rows, per batch."""
    mismatched = batches_not_published_once(settings)
    assert mismatched.empty, mismatched


def test_a_bad_batch_stops_at_the_raw_gate_pages_and_the_run_after_removing_it_succeeds(
    settings: LakehouseSettings, first_build: dict, tmp_path: Path, webhook: Webhook
) -> None:
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text(DEFAULT_CONFIG.read_text().replace("missing_field = 0.002", "missing_field = 0.3"))
    report = tmp_path / "bad.json"
    run_cli(
        settings,
        *GENERATE,
        "--config",
        str(bad_config),
        "--start",
        "2026-01-03",
        "--days",
        "1",
        "--report",
        str(report),
    )
    failing_from = time.monotonic()
    assert_stops_at(settings, "raw", "served_msisdn")
    failed_at = time.monotonic()
    # The failed gate pages: its metrics file -> exporter -> Prometheus -> Alertmanager -> webhook.
    paged = webhook.wait_for("firing", "GateFailed", {"gate": "raw"}, failing_from, GATE_ALERT_TIMEOUT_S)
    # The ops page's gate history shows that run: failed at raw, nothing after it run.
    newest = ops.ops_view(settings).gate_runs[0]
    assert not newest.published and newest.gates["raw"] is False
    assert all(result is None for gate, result in newest.gates.items() if gate != "raw")
    bad = json.loads(report.read_text())["batch_id"]
    query(settings, f"DELETE FROM {settings.namespaces.raw}.cdr WHERE batch_id = '{bad}'")
    assert "pipeline succeeded" in run_cli(settings, "pipeline").stdout
    passed_at = time.monotonic()
    resolved = webhook.wait_for("resolved", "GateFailed", {"gate": "raw"}, passed_at, GATE_ALERT_TIMEOUT_S)
    clean_matches_raw(settings)
    history = ops.ops_view(settings).gate_runs
    # The bad batch deleted, the re-run found no new raw rows: the raw gate had nothing to judge.
    assert history[0].published
    assert history[0].gates == {"raw": None, "clean": True, "analytics": True, "forecast": True}
    failed = [r for r in history[1:] if r.ended == newest.ended]
    assert failed and failed[0].gates["raw"] is False, "the failed run stays in the history"
    print(
        f"GateFailed: fired {paged - failed_at:.1f}s after the failed run ended, "
        f"resolved {resolved - passed_at:.1f}s after the next run passed"
    )


def test_a_pipeline_before_any_reference_data_names_the_tables_to_load(settings: LakehouseSettings) -> None:
    """The stream lands CDRs only: a raw namespace holding nothing else stops before dbt runs,
    naming the missing tables and the command that loads them."""
    raw = unique("it_noref")
    local = settings.model_copy(update={"namespaces": settings.namespaces.model_copy(update={"raw": raw})})
    catalog = clients.iceberg_catalog(local)
    catalog.create_namespace(raw)
    cdr = events(100, unique("noref"))
    catalog.create_table(f"{raw}.cdr", schema=cdr.schema).append(cdr)
    with pytest.raises(PrerequisiteError, match=rf"{raw}\.subscribers.* do not exist yet.*make generate"):
        prepare_pending_view(local)


def test_a_value_outside_its_domain_stops_at_the_clean_gate_and_recovery_needs_no_full_refresh(
    settings: LakehouseSettings, first_build: dict
) -> None:
    """A call whose result is not a result: valid to raw (one row is within the defect rate) and
    to dbt's integrity tests; the clean gate's domain rule catches it."""
    landed = insert_copies(
        settings,
        "defect-clean",
        "record_type = 'voice' LIMIT 1",
        {"result": "'teleported'"},
    )
    assert landed == 1
    assert_stops_at(settings, "clean", "result")
    query(settings, f"DELETE FROM {settings.namespaces.raw}.cdr WHERE batch_id = 'defect-clean'")
    assert "pipeline succeeded" in run_cli(settings, "pipeline").stdout
    clean_matches_raw(settings)


def test_a_negative_tariff_stops_at_the_analytics_gate_and_recovery_needs_no_full_refresh(
    settings: LakehouseSettings, first_build: dict
) -> None:
    """Negative prices rate new calls below zero: clean and its tests accept the records, the
    analytics gate's charge range catches them."""
    raw, clean = settings.namespaces.raw, settings.namespaces.clean
    query(settings, f"UPDATE {raw}.tariff_plans SET price_per_minute = -price_per_minute")
    landed = insert_copies(
        settings,
        "defect-analytics",
        "record_type = 'voice' AND direction = 'MO' AND result = 'answered' AND duration_s > 0 LIMIT 200",
        {},
    )
    assert landed == 200
    voice_before = query(settings, f"SELECT count(*) AS n FROM {clean}.voice_calls").n[0]
    assert_stops_at(settings, "analytics", "charge")
    # Clean passed its gate but was not published either: the analytics gate failed after it.
    assert query(settings, f"SELECT count(*) AS n FROM {clean}.voice_calls").n[0] == voice_before
    query(settings, f"UPDATE {raw}.tariff_plans SET price_per_minute = -price_per_minute")
    assert "pipeline succeeded" in run_cli(settings, "pipeline").stdout
    clean_matches_raw(settings)
    new_calls = query(settings, f"SELECT count(*) AS n FROM {clean}.voice_calls").n[0] - voice_before
    assert new_calls == landed  # the batch the failed run had built was rebuilt once, not lost


def test_a_pipeline_killed_mid_build_publishes_nothing_and_the_next_run_converges(
    settings: LakehouseSettings, first_build: dict
) -> None:
    run_cli(settings, *GENERATE, "--start", "2026-01-04", "--days", "1")
    before = published_state(settings)
    checked = f"{settings.namespaces.intermediate}.int_cdr_checked"
    catalog = clients.iceberg_catalog(settings)
    pipeline = subprocess.Popen(
        [LAKEHOUSE, "pipeline"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **settings.to_env()},
    )
    try:
        # Kill once the run has committed to a candidate: the intermediate table moved on.
        deadline = time.monotonic() + 600
        while catalog.load_table(checked).metadata.current_snapshot_id == before["tables"][checked]:
            assert pipeline.poll() is None, "the pipeline ended before building anything"
            assert time.monotonic() < deadline, "the pipeline never committed a candidate"
            time.sleep(0.2)  # polling a condition, not waiting for one
    finally:
        pipeline.kill()
        pipeline.wait()
    after_kill = published_state(settings)
    assert after_kill["tables"] != before["tables"], "killed after a candidate commit"
    assert {k: v for k, v in after_kill.items() if k != "tables"} == {
        k: v for k, v in before.items() if k != "tables"
    }, "readers see exactly the last publication"

    run = run_cli(settings, "pipeline")
    assert "[restore]" in run.stdout and "pipeline succeeded" in run.stdout
    clean_matches_raw(settings)
