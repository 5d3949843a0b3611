"""The generator's web page (Streamlit): configure a scenario, preview it, run it.

Every rule and number comes from the library the CLI uses: validation from
:mod:`app.ui.scenario` (the generator's model), the preview from :mod:`app.ui.preview` (the
generator itself on a sample), runs from :mod:`app.ui.runs` (``lakehouse generate``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import streamlit as st

from app.ui import live, ops, runs
from app.ui.preview import preview
from app.ui.scenario import (
    Scenario,
    Validation,
    default_scenario,
    get_path,
    parse_scenario,
    scenario_toml,
    validate,
    with_value,
)
from core.exceptions import LakehouseError
from core.settings import LakehouseSettings, load_settings


@st.cache_resource
def _settings() -> LakehouseSettings:
    return load_settings()


def _scenario() -> Scenario:
    if "scenario" not in st.session_state:
        st.session_state.scenario = default_scenario()
    return st.session_state.scenario  # type: ignore[no-any-return]


def number(label: str, path: str, validation: Validation, step: float | None = None) -> None:
    """A number field bound to ``path``; its error (from the generator's model) shown beneath."""
    current = get_path(_scenario(), path)
    if isinstance(current, bool) or not isinstance(current, int | float):
        current = 0
    if step is None:
        step = 1 if isinstance(current, int) else 0.001
    value: Any = st.number_input(
        label, value=current, step=step, key=f"field:{path}", format=None if step == 1 else "%.4f"
    )
    st.session_state.scenario = with_value(_scenario(), path, value)
    message = validation.error_for(path)
    if message:
        st.error(message)


def configure(validation: Validation) -> None:
    uploaded = st.file_uploader("Start from a scenario (TOML)", type=["toml"])
    if uploaded is not None and st.session_state.get("uploaded") != uploaded.file_id:
        try:
            st.session_state.scenario = parse_scenario(uploaded.getvalue().decode("utf-8"), uploaded.name)
        except (LakehouseError, UnicodeDecodeError) as exc:
            st.error(str(exc))
        st.session_state.uploaded = uploaded.file_id
        for key in [k for k in st.session_state if str(k).startswith("field:")]:
            del st.session_state[key]
        st.rerun()
    left, middle, right = st.columns(3)
    with left:
        number("Subscribers", "subscribers", validation)
    with middle:
        number("Days", "days", validation)
    with right:
        number("Seed", "seed", validation)
    start = get_path(_scenario(), "start")
    chosen = st.date_input(
        "Start date", value=start.date() if isinstance(start, datetime) else date(2025, 12, 29)
    )
    st.session_state.scenario = with_value(
        _scenario(), "start", datetime.combine(chosen, datetime.min.time())
    )
    with st.expander("Segment and service mix"):
        for name in _scenario().get("segment_mix") or {}:
            number(f"Segment weight: {name}", f"segment_mix.{name}", validation, 0.01)
        for name in _scenario().get("service_mix") or {}:
            number(f"Service weight: {name}", f"service_mix.{name}", validation, 0.01)
    with st.expander("Traffic rates (events per subscriber per day)"):
        for segment in get_path(_scenario(), "traffic.rates") or {}:
            cols = st.columns(3)
            for col, kind in zip(cols, ("voice", "sms", "data"), strict=True):
                with col:
                    number(f"{segment} {kind}", f"traffic.rates.{segment}.{kind}", validation, 0.1)
    with st.expander("Region weights (population)"):
        for index, region in enumerate(_scenario().get("regions") or []):
            number(f"{region.get('name', index)} population", f"regions.{index}.population", validation)
    with st.expander("Defects (share of rows per type)"):
        for name in _scenario().get("defects") or {}:
            number(f"Defect rate: {name}", f"defects.{name}", validation, 0.0005)
    with st.expander("Incidents"):
        for name, label in (
            ("cell_outages", "Cell outages"),
            ("congestion_events", "Congestion events"),
            ("simbox_rings", "SIM-box rings"),
            ("simbox_sims", "SIM-box lines per ring"),
        ):
            number(label, f"incidents.{name}", validation)
    validation = validate(_scenario(), _settings().time_zone)
    if validation.ok:
        st.success("Scenario valid")
    else:
        for message in validation.errors.values():
            st.error(message)
    st.download_button(
        "Download scenario (TOML)", scenario_toml(_scenario()), file_name="scenario.toml", mime="text/plain"
    )


def show_preview(validation: Validation) -> None:
    if validation.config is None:
        st.info("Fix the scenario's errors (Configure) to preview it.")
        return
    try:
        result = preview(validation.config, _settings().ui.preview_subscribers)
    except LakehouseError as exc:
        st.error(str(exc))
        return
    cols = st.columns(4)
    cols[0].metric("Expected events", f"{result.expected_rows:,}")
    cols[1].metric("Sample-scaled events", f"{result.estimated_rows:,}")
    cols[2].metric("Generation time (est.)", f"{result.estimated_generation_seconds:.1f} s")
    cols[3].metric("Parquet size (est.)", f"{result.estimated_bytes / 2**20:,.0f} MiB")
    st.caption(
        f"Sample: {result.sample.subscribers:,} subscribers x {result.sample.days} days, "
        f"{result.sample_rows:,} events in {result.sample_seconds:.2f} s (same seed)."
    )
    hourly = result.hourly.to_pandas().pivot_table(index="local_hour", columns="record_type", values="events")
    st.subheader("Events per local hour")
    st.line_chart(hourly)
    left, right = st.columns(2)
    left.subheader("Events per weekday")
    left.bar_chart(result.weekly.to_pandas(), x="weekday_name", y="events")
    right.subheader("Answered call durations")
    right.bar_chart(result.durations.to_pandas(), x="bucket", y="calls")
    left.subheader("Record types")
    left.bar_chart({k: [v] for k, v in sorted(result.by_type.items())})
    right.subheader("Segments")
    right.bar_chart(result.segments.to_pandas().fillna("unknown"), x="segment", y="events")
    st.subheader("Traffic by region")
    regions = result.regions.to_pandas().dropna()
    st.map(regions, latitude="latitude", longitude="longitude", size="events")
    st.dataframe(regions, hide_index=True)
    st.subheader("Incidents in the sample")
    st.dataframe(result.incidents.to_pandas(), hide_index=True)


def run_tab(validation: Validation) -> None:
    settings = _settings()
    target = st.radio("Target", ["Iceberg", "Parquet", "Kafka"], horizontal=True)
    namespace = st.text_input("Iceberg namespace", value=settings.namespaces.raw)
    rate = st.number_input("Kafka rate (events/s, 0 = as fast as the broker takes)", value=0.0, step=100.0)
    if st.button("Start run", disabled=not validation.ok):
        request = runs.RunRequest(
            target=target.lower(),  # type: ignore[arg-type]
            namespace=namespace or None,
            rate=rate or None,
        )
        try:
            runs.start_run(settings, scenario_toml(_scenario()), request)
        except LakehouseError as exc:
            st.error(str(exc))
    run_status()


@st.fragment(run_every=1.0)
def run_status() -> None:
    """The latest run, re-read from its directory every second (it outlives the page)."""
    known = runs.list_runs(_settings())
    if not known:
        st.caption("No run yet.")
        return
    run = known[0]
    st.progress(run.fraction, text=f"run {run.run_id}: {run.state}, {run.rows:,} events")
    if run.state == "finished" and run.report is not None:
        report = run.report
        st.success(
            f"Run finished: batch {report['batch_id']}, {int(report['rows']):,} events "  # type: ignore[call-overload]
            f"to {run.request.target} in {run.seconds:.1f} s (generation {report['seconds']} s)"
        )
        report_tables(report)
        if run.request.target == "parquet":
            st.download_button(
                "Download Parquet (zip)",
                data=lambda: runs.parquet_archive(run).read_bytes(),
                file_name=f"cdr-{run.run_id}.zip",
                mime="application/zip",
                on_click="ignore",
            )
    elif run.state == "failed":
        st.error(f"Run failed; the end of its log ({run.directory / 'run.log'}):")
        st.code(run.log_tail)
    elif st.button("Stop run"):
        runs.stop_run(run.directory)


def report_tables(report: dict[str, object]) -> None:
    """The run's report: rows per record type, defects and incidents injected."""
    columns = st.columns(3)
    for column, (key, title) in zip(
        columns,
        [("by_type", "Rows per type"), ("defects", "Defects injected"), ("incidents", "Incidents")],
        strict=True,
    ):
        counts = report.get(key) or {}
        column.caption(title)
        column.dataframe(
            [{"kind": str(k), "count": int(v)} for k, v in counts.items()],  # type: ignore[union-attr]
            hide_index=True,
        )


def live_tab() -> None:
    settings = _settings()
    rate = st.number_input("Stream rate (events/s)", value=float(settings.stream.rate), step=500.0)
    left, right = st.columns(2)
    if left.button("Start stream"):
        try:
            live.start_stream(settings, rate)
        except (ValueError, LakehouseError) as exc:
            st.error(str(exc))
    if right.button("Stop stream"):
        stopped = live.stop_stream(settings)
        st.info(f"stopped: {', '.join(stopped)}" if stopped else "nothing was streaming")
    live_status()


@st.fragment(run_every=2.0)
def live_status() -> None:
    """Processes, throughput, lag and the latest alerts, every two seconds."""
    now = live.snapshot(_settings())
    rate = live.throughput(st.session_state.get("live_before"), now)
    st.session_state.live_before = now
    for process in now.processes:
        st.caption(f"{process.name}: {process.state}" + (f" (pid {process.pid})" if process.pid else ""))
    if now.starting:
        st.info("starting the streaming job (Spark's first micro-batch takes about a minute)")
    if now.problem:
        st.warning(now.problem)
    if not now.job_running:
        return
    cols = st.columns(3)
    cols[0].metric("Landed (records/s)", "-" if rate is None else f"{rate:,.0f}")
    cols[1].metric("Lag (records in Kafka)", "-" if now.lag is None else f"{now.lag:,}")
    cols[2].metric("Committed offsets", "-" if now.processed is None else f"{now.processed:,}")
    st.subheader("Latest real-time alerts")
    st.dataframe(now.alerts, hide_index=True)


def ops_tab() -> None:
    settings = _settings()
    st.caption(
        f"From Prometheus ({settings.monitoring.prometheus.url}), the numbers the alert rules watch; "
        f"alerts route through Alertmanager ({settings.monitoring.alertmanager.url})."
    )
    ops_status()


def _chart(title: str, series: list[ops.RangeSeries], label: str = "topic") -> None:
    st.caption(title)
    frame = ops.as_frame(series, label)
    if frame.empty:
        st.caption("no samples in the window")
    else:
        st.line_chart(frame, height=220)


@st.fragment(run_every=5.0)
def ops_status() -> None:
    """Headline numbers, charts, gate history and health, re-read every five seconds."""
    view = ops.ops_view(_settings())
    if view.problem:
        st.warning(view.problem)
        return
    rate, behind, fresh = (
        ops.latest(view.ingest_rate),
        ops.latest(view.lag),
        ops.oldest_latest(view.freshness),
    )
    share = ops.latest(view.quarantine_share)
    cols = st.columns(5)
    cols[0].metric("Ingest (rows/s)", "-" if rate is None else f"{rate:,.0f}")
    cols[1].metric("Lag (records)", "-" if behind is None else f"{behind:,.0f}")
    cols[2].metric("Last commit (s ago)", "-" if fresh is None else f"{fresh:,.0f}")
    cols[3].metric("Quarantined (5 min)", "-" if share is None else f"{share:.2%}")
    cols[4].metric("Targets up", f"{view.targets_up}/{len(view.targets)}")
    if view.firing:
        st.error("Firing: " + ", ".join(ops.alert_names(view.firing)))
    else:
        st.success("No alert firing")
    left, right = st.columns(2)
    with left:
        _chart("Rows landed per second", view.ingest_rate)
        _chart("Seconds since the last commit", view.freshness)
    with right:
        _chart("Records waiting in Kafka", view.lag)
        _chart("Share of rows quarantined", view.quarantine_share, label="")
    st.subheader("Pipeline gates (last 24 h)")
    if view.gate_runs:
        st.dataframe(ops.gate_table(view.gate_runs), hide_index=True)
    else:
        st.caption("no pipeline run seen in the last 24 h (`make pipeline`)")
    st.subheader("Service health")
    st.dataframe(ops.target_table(view.targets), hide_index=True)


def main() -> None:
    st.set_page_config(page_title="CDR generator", layout="wide")
    st.title("CDR generator")
    validation = validate(_scenario(), _settings().time_zone)
    configure_panel, preview_panel, run_panel, live_panel, ops_panel = st.tabs(
        ["Configure", "Preview", "Run", "Live stream", "Operations"]
    )
    with configure_panel:
        configure(validation)
    validation = validate(_scenario(), _settings().time_zone)
    with preview_panel:
        show_preview(validation)
    with run_panel:
        run_tab(validation)
    with live_panel:
        live_tab()
    with ops_panel:
        ops_tab()


main()
