"""Run the benchmarks and write BENCHMARKS.md (`make bench`; the stack must be up for Iceberg)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import dashboards_bench, dbt_bench, forecast_bench, stream_bench
from bench.baseline import naive_events
from core import clients
from core.settings import PROJECT_ROOT, load_settings
from generator.config import load_config
from generator.run import Generation
from ingestion.iceberg_batch import load_generation, with_ingestion_columns
from ingestion.iceberg_tables import ensure_table
from ingestion.parquet_sink import REPEATING, write_parquet

REPORT = PROJECT_ROOT / "BENCHMARKS.md"
BENCH_NAMESPACE = f"{dbt_bench.PREFIX}arrow"  # every bench_* schema is dropped afterwards


def best_of(runs: int, action: Callable[[], int]) -> tuple[float, int]:
    """Fastest of ``runs`` timed calls: (seconds, rows)."""
    results = []
    for _ in range(runs):
        began = time.perf_counter()
        rows = action()
        results.append((time.perf_counter() - began, rows))
    return min(results)


def generate_to_arrow(generation: Generation) -> int:
    """Events only: the reference world of the run is built beforehand (measured on its own)."""
    return sum(batch.num_rows for batch, _ in generation.batches())


def build_reference() -> int:
    return Generation(load_config()).world.subscribers.num_rows


def generated_table() -> pa.Table:
    return pa.Table.from_batches([batch for batch, _ in Generation(load_config()).batches()])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    if os.environ.get("BENCH_ONLY") == "dashboards":
        return dashboards_only()
    if os.environ.get("BENCH_ONLY") == "forecast":
        return forecast_only()
    rows: list[tuple[str, float, str, str]] = []

    def record(name: str, seconds: float, count: int, target: float | None) -> float:
        rate = count / seconds
        verdict = "" if target is None else ("met" if rate >= target else "NOT met")
        rows.append(
            (name, rate, f"{count:,} in {seconds:.2f} s", f"≥ {target:,.0f}/s {verdict}" if target else "")
        )
        print(f"{name:<48} {rate:>14,.0f}/s  ({count:,} in {seconds:.2f} s)", flush=True)
        return rate

    record("reference data: subscribers (Faker names), cells", *best_of(3, build_reference), None)
    generation = Generation(load_config())
    arrow = record(
        "generate events to Arrow (1 process)", *best_of(3, lambda: generate_to_arrow(generation)), 2_000_000
    )
    baseline = record(
        "baseline: row-at-a-time generator", *best_of(1, lambda: naive_events(50_000).num_rows), None
    )

    table = generated_table()
    with tempfile.TemporaryDirectory() as tmp:
        record("generate + write Parquet (end to end)", *best_of(2, lambda: _parquet(Path(tmp))), 1_000_000)
        target = Path(tmp) / "events.parquet"
        write_only = best_of(2, lambda: _write(table, target))
        record("write Parquet only (pre-generated Arrow)", *write_only, 1_000_000)

    settings = load_settings()
    catalog = clients.iceberg_catalog(settings)
    catalog.create_namespace_if_not_exists(BENCH_NAMESPACE)
    sorted_events = with_ingestion_columns(
        table.take(pc.sort_indices(table, [("start_time", "ascending")])), "bench"
    )
    record(
        "append to Iceberg on MinIO (sorted Arrow)",
        *best_of(2, lambda: _iceberg_append(catalog, sorted_events)),
        1_000_000,
    )
    record(
        "generate + load into Iceberg (end to end)", *best_of(1, lambda: _iceberg_load(catalog)), 1_000_000
    )
    dbt_bench.drop_bench_schemas(settings)

    print("dashboards, in headless Chromium:", flush=True)
    dashboards = dashboards_bench.run(settings)
    queries = dashboards_bench.chart_queries(settings)

    dbt_results = []
    for size in (int(v) for v in os.environ.get("BENCH_DBT_EVENTS", "1000000").split()):
        print(f"dbt on Trino, {size:,} events:", flush=True)
        result = dbt_bench.run(settings, size, chart_queries=queries)
        for name, seconds in result.chart_query_p95_s.items():
            dashboards.query_p95_s.setdefault(name, {})[f"{result.events:,} events"] = seconds
        dbt_results.append(result)
        print(f"  full build {result.full_build_s:.1f} s, incremental {result.incremental_s:.1f} s "
              f"({result.ratio:.0%}), dashboard p95 {result.overall_p95_s:.2f} s", flush=True)  # fmt: skip

    print("streaming, Kafka -> Spark -> Iceberg:", flush=True)
    streaming = stream_bench.run(settings)
    dbt_bench.drop_bench_schemas(settings)

    print("forecasts on generated weeks (no services):", flush=True)
    forecasts = forecast_bench.run()
    _write_report(rows, arrow / baseline, dbt_results, streaming, dashboards, forecasts)
    return 0


def _replace_section(heading: str, section: list[str]) -> None:
    """Write ``section`` in place of BENCHMARKS.md's section ``heading`` (or at its end)."""
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    if heading in text:  # replace that section (up to the next one), keep the others
        before, _, after = text.partition(heading)
        rest = after.split("\n## ", 1)
        text = before + ("## " + rest[1] if len(rest) > 1 else "")
    REPORT.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section))


def forecast_only() -> int:
    """`make bench BENCH_ONLY=forecast`: only the forecasts' section, measured again (no stack)."""
    result = forecast_bench.run()
    section = forecast_bench.report(result)
    print("\n".join(section))
    _replace_section(section[0], section)
    print(f"\nwrote the forecasts section of {REPORT}")
    return 0


def dashboards_only() -> int:
    """`make bench BENCH_ONLY=dashboards`: only the dashboards' section of BENCHMARKS.md is
    measured again (on the published marts; set BENCH_DBT_EVENTS to also time the charts' SQL on
    marts of that size)."""
    settings = load_settings()
    print("dashboards, in headless Chromium:", flush=True)
    dashboards = dashboards_bench.run(settings)
    queries = dashboards_bench.chart_queries(settings)
    for size in (int(v) for v in os.environ.get("BENCH_DBT_EVENTS", "").split()):
        print(f"dbt on Trino, {size:,} events (for the charts' SQL):", flush=True)
        result = dbt_bench.run(settings, size, chart_queries=queries)
        for name, seconds in result.chart_query_p95_s.items():
            dashboards.query_p95_s.setdefault(name, {})[f"{result.events:,} events"] = seconds
    _replace_section("## Dashboards", dashboards_bench.report(dashboards))
    print(f"\nwrote the dashboards section of {REPORT}")
    return 0


def _parquet(tmp: Path) -> int:
    generation = Generation(load_config())
    write_parquet(generation, tmp)
    return generation.report.rows


def _write(table: pa.Table, target: Path) -> int:
    pq.write_table(table, target, compression="zstd", use_dictionary=REPEATING, row_group_size=256 * 1024)
    return table.num_rows


def _iceberg_append(catalog, events: pa.Table) -> int:  # type: ignore[no-untyped-def]
    from core.contracts.raw_tables import RAW_CDR_SCHEMA

    identifier = f"{BENCH_NAMESPACE}.cdr_append"
    if catalog.table_exists(identifier):
        catalog.purge_table(identifier)
    ensure_table(catalog, identifier, RAW_CDR_SCHEMA, day_partition="start_time").append(events)
    return events.num_rows


def _iceberg_load(catalog) -> int:  # type: ignore[no-untyped-def]
    dbt_bench.drop_bench_schemas(load_settings())
    result = load_generation(catalog, Generation(load_config()), f"{dbt_bench.PREFIX}load")
    return result.rows["cdr"]


def _write_report(
    rows: list[tuple[str, float, str, str]],
    ratio: float,
    dbt_results: list[dbt_bench.DbtBenchResult],
    streaming: stream_bench.StreamBenchResult,
    dashboards: dashboards_bench.DashboardBenchResult,
    forecasts: forecast_bench.ForecastBenchResult,
) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    cores = os.cpu_count()
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,",
        f"commit `{commit.stdout.strip()}`,",
        f"{cpu_model()}, {cores} cores, Python {sys.version.split()[0]}.",
        "Default generator config (20,000 subscribers, 4 days). Rates are the best of the runs listed in",
        "`bench/__main__.py`; every row is measured in the same run as the baseline.",
        "",
        "| measurement | rate | volume | target |",
        "|---|---:|---|---|",
        *(f"| {name} | {rate:,.0f} rows/s | {volume} | {target} |" for name, rate, volume, target in rows),
        "",
        f"Vectorised generator vs the row-at-a-time baseline: **{ratio:.0f} times** faster (target: 20).",
        "",
        "## dbt on Trino (`dbt run`, all layers)",
        "",
        "| events | full build | + one hour of data | incremental build | incremental / full "
        "| dashboard p95 |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r.events:,} | {r.full_build_s:.1f} s | {r.extra_events:,} | {r.incremental_s:.1f} s "
            f"| {r.ratio:.0%} (target ≤ 10%) | {r.overall_p95_s:.2f} s (target ≤ 1 s) |"
            for r in dbt_results
        ),
        "",
        *(
            f"Dashboard queries at {r.events:,} events (p95 of 20 runs): "
            + "; ".join(f"{name} {p95:.2f} s" for name, p95 in r.query_p95_s.items())
            + "."
            for r in dbt_results
        ),
        "",
        *_stream_section(streaming),
        *dashboards_bench.report(dashboards),
        *forecast_bench.report(forecasts),
    ]
    REPORT.write_text("\n".join(lines))
    print(f"\nwrote {REPORT}")


def _stream_section(r: stream_bench.StreamBenchResult) -> list[str]:
    m = r.maintenance
    met = "met" if r.sustained_rate >= 50_000 else "NOT met"
    fresh_met = "met" if r.freshness_p95_s <= 15 else "NOT met"
    return [
        "## Streaming: Kafka -> Spark Structured Streaming -> Iceberg",
        "",
        f"One local Spark job (`local[2]`, trigger every {r.trigger_seconds:g} s) beside the whole stack on",
        "the same cores; the CDR query and the alerts query read the same topic.",
        "",
        "| measurement | result | target |",
        "|---|---:|---|",
        f"| produce to Kafka (vectorised JSON, baseline for the job) | {r.produce_rate:,.0f} events/s | |",
        f"| Kafka -> raw.cdr, sustained (between first and last commit) | {r.sustained_rate:,.0f} events/s "
        f"| ≥ 50,000/s {met} |",
        f"| drain {r.prefilled:,} prefilled events, cold job | {r.catch_up_s:.1f} s "
        f"({r.prefilled / r.catch_up_s:,.0f} events/s) | |",
        f"| freshness p50, produce -> visible in Trino, at {r.freshness_rate:,.0f} events/s "
        f"| {r.freshness_p50_s:.1f} s | |",
        f"| freshness p95 ({r.probes} probes) | {r.freshness_p95_s:.1f} s | ≤ 15 s {fresh_met} |",
        f"| commits per hour at that rate | {r.commits_per_hour:,.0f} | |",
        f"| data files added per hour | {r.files_per_hour:,.0f} | |",
        f"| `maintain` on cdr (while streaming): files | {m['files_before']:,.0f} -> {m['files_after']:,.0f} "
        f"in {m['seconds']:.1f} s | |",
        f"| full scan aggregate through Trino, before -> after | {m['scan_before_s']:.2f} s -> "
        f"{m['scan_after_s']:.2f} s | |",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
