"""Real-time alerts: KPIs per cell and event-time window, judged against the cell's own baseline.

A streaming aggregation (tumbling windows, watermark = allowed lateness) emits each window
once, when it closes. For every closed window we store its KPIs in ``realtime_cell_windows``
and raise an alert when a rule fires:

- ``failure_spike``: at least ``min_failures`` failed voice/SMS attempts, a failed share
  ``failure_points`` above the cell's typical share and ``failure_sigmas`` deviations (Poisson)
  over the failures that share expects (congestion, or an outage failing what it still serves);
- ``drop_spike``: dropped share of at least ``min_answered`` answered calls >= ``drop_rate``,
  and ``drop_sigmas`` deviations over the drops the cell's typical share expects;
- ``traffic_drop``: attempts under ``traffic_drop_ratio`` of the expected and
  ``traffic_drop_sigmas`` deviations below them (a cell whose traffic moved to its
  neighbours). Expected = the cell's usual share of the network's attempts at this time of day
  x the network's attempts in this window, so busy hours, quiet nights and the New Year spike,
  which move every cell together, raise nothing. A silent cell still gets judged: every cell
  of the baseline has a window, of zeros if it saw nothing.

Baselines come from the windows of the ``baseline_days`` before (medians, and failure shares
of windows that were not failing, so an incident does not pull its own baseline).

Alerts go to the alerts topic and an Iceberg table; alert ids are deterministic (rule, cell,
window), so consumers of the topic can drop the repeats a crash between publishing and
committing may cause; each table gets each micro-batch once, whatever point a crash hit
(:func:`still_to_write`). ``lakehouse stream score`` scores the alerts against the live truth.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from core import clients, failpoints
from core.contracts.cdr_message import MAX_TEXT_BYTES, SCHEMA_VERSION
from core.contracts.stream_tables import StreamTables
from core.settings import AlertSettings, LakehouseSettings
from ingestion.streaming.contract import JSON_OPTIONS, parse_time
from ingestion.streaming.ledger import committed_micro_batch, micro_batch_property
from ingestion.streaming.metrics import AlertQueryMetrics
from ingestion.streaming.source import checkpoint_dir, kafka_stream

# Where a crash test holds the job: the alerts of a micro-batch are in, its windows not yet.
AFTER_ALERTS_COMMIT = "alerts-after-alerts-commit"

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

SIGNALLING = ("voice", "sms")
# A cell that failed (or dropped) nothing in its baseline still does sometimes: a typical share
# of zero would make a single failure infinitely significant.
MIN_TYPICAL_RATE = 0.005
DAY_SECONDS = 86_400
# Same-time-of-day windows a traffic baseline needs: one day's (the window and its neighbours).
MIN_BASELINE_WINDOWS = 3


def baseline_span_seconds(rules: AlertSettings) -> int:
    """How far back a window's baselines reach: its time of day on each of ``baseline_days``."""
    return rules.baseline_days * DAY_SECONDS + rules.window_seconds


ALERT_FIELDS = ", ".join(
    f"`{name}` string"
    for name in ("schema_version", "record_id", "start_time", "network_element_id", "record_type", "result")
)


def cell_windows(messages: DataFrame, rules: AlertSettings) -> DataFrame:
    """Streaming KPIs per (cell, window) from raw Kafka records; valid messages only."""
    # Only the fields the KPIs need are parsed (half the cost of the full contract check): a
    # message the CDR query rejects for another field (or for text after the object) still
    # counts on its cell. Never an error: a time that is not a real instant is skipped.
    fields = F.from_json(F.col("value").cast("string"), ALERT_FIELDS, JSON_OPTIONS).alias("f")
    cell = F.col("f.network_element_id")
    events = (
        messages.select(fields)
        .select(
            parse_time(F.col("f.start_time")).alias("event_time"),
            cell.alias("network_element_id"),
            F.col("f.record_type").alias("record_type"),
            F.col("f.result").alias("result"),
            (
                (F.col("f.schema_version") == str(SCHEMA_VERSION))
                & F.col("f.record_id").isNotNull()
                & (F.octet_length(cell) <= MAX_TEXT_BYTES["network_element_id"])
            ).alias("counted"),
        )
        .where(F.col("counted") & F.col("event_time").isNotNull())
        .drop("counted")
    )
    signalling = F.col("record_type").isin(*SIGNALLING)
    voice = F.col("record_type") == "voice"

    def count_if(condition: F.Column) -> F.Column:
        return F.sum(F.when(condition, 1).otherwise(0)).cast("bigint")

    return (
        events.withWatermark("event_time", f"{rules.lateness_seconds} seconds")
        .groupBy(F.window("event_time", f"{rules.window_seconds} seconds"), "network_element_id")
        .agg(
            F.count(F.lit(1)).alias("events"),
            count_if(signalling).alias("attempts"),
            count_if(signalling & (F.col("result") == "failed")).alias("failed"),
            count_if(voice & F.col("result").isin("answered", "dropped")).alias("answered"),
            count_if(voice & (F.col("result") == "dropped")).alias("dropped"),
        )
        .select(
            "network_element_id",
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "events",
            "attempts",
            "failed",
            "answered",
            "dropped",
            F.current_timestamp().alias("computed_at"),
        )
    )


def deviation(observed: F.Column, expected: F.Column) -> F.Column:
    """How many deviations ``observed`` counts lie from ``expected`` (either way), as the signed
    root of the Poisson deviance: close to the exact tail even for a handful of events, where
    the normal approximation calls four failures of an expected 0.1 thirteen sigmas and four
    calls of an expected twenty only four."""
    term = F.when(observed > 0, observed * F.log(observed / expected)).otherwise(F.lit(0.0))
    return F.sqrt(F.greatest(F.lit(0.0), 2 * (term - (observed - expected))))


def judge(windows: DataFrame, history: DataFrame, rules: AlertSettings) -> DataFrame:
    """Alerts (ALERT_SCHEMA columns) for closed ``windows``, given earlier windows in ``history``
    (``network_element_id, window_start, attempts, failed, answered, dropped``; it may hold
    ``windows`` too)."""
    span = baseline_span_seconds(rules)
    counts = ["events", "attempts", "failed", "answered", "dropped"]
    # A cell gone silent has no window of its own: every cell the baseline knows gets one in
    # each window closed, with zero counts where it saw nothing.
    cells = history.select("network_element_id").union(windows.select("network_element_id")).distinct()
    judged = (
        windows.select("window_start", "window_end")
        .distinct()
        .crossJoin(cells)
        .join(windows.drop("window_end", "computed_at"), ["network_element_id", "window_start"], "left")
        .fillna(0, subset=counts)
    )
    # Each window's share of the network's attempts: the daily curve (busy hours, quiet nights,
    # the New Year spike) moves every cell together, so a cell's share stays put until its own
    # traffic goes elsewhere.
    network = history.groupBy("window_start").agg(F.sum("attempts").alias("network_attempts"))
    past = history.join(network, "window_start").select(
        "network_element_id",
        "window_start",
        "attempts",
        "failed",
        "answered",
        "dropped",
        F.try_divide(F.col("attempts"), F.col("network_attempts")).alias("share"),
        F.try_divide(F.col("failed"), F.col("attempts")).alias("failure_rate"),
        F.try_divide(F.col("dropped"), F.col("answered")).alias("drop_rate"),
    )
    w, h = judged.alias("w"), past.alias("h")
    # The same time of day (the window and its two neighbours) on each of the days before: a
    # cell's share follows the day (offices by day, homes by night). Robust, so that an
    # incident does not pull its own baseline: the median share, and the failed share of the
    # windows that were not failing (an outage fails everything, congestion a third or more).
    lag = F.unix_seconds(F.col("w.window_start")) - F.unix_seconds(F.col("h.window_start"))
    time_of_day = lag % DAY_SECONDS
    near = (time_of_day <= rules.window_seconds) | (time_of_day >= DAY_SECONDS - rules.window_seconds)
    same_time_a_day_before = near & (lag >= DAY_SECONDS - rules.window_seconds)
    normal = F.col("h.failure_rate") < rules.failure_points
    calm = F.col("h.drop_rate") < rules.drop_rate
    baseline = (
        w.join(
            h,
            (F.col("h.network_element_id") == F.col("w.network_element_id"))
            & (F.col("h.window_start") < F.col("w.window_start"))
            & (F.col("h.window_start") >= F.col("w.window_start") - F.expr(f"INTERVAL {span} SECONDS")),
        )
        .groupBy("w.network_element_id", "w.window_start")
        .agg(
            F.count(F.when(same_time_a_day_before, 1)).alias("baseline_windows"),
            F.median(F.when(same_time_a_day_before, F.col("h.share"))).alias("usual_share"),
            F.try_divide(
                F.sum(F.when(normal, F.col("h.failed"))), F.sum(F.when(normal, F.col("h.attempts")))
            ).alias("typical_failure"),
            F.try_divide(
                F.sum(F.when(calm, F.col("h.dropped"))), F.sum(F.when(calm, F.col("h.answered")))
            ).alias("typical_drop"),
        )
    )
    judged = judged.join(baseline, ["network_element_id", "window_start"], "left").join(
        judged.groupBy("window_start").agg(F.sum("attempts").alias("network_attempts")), "window_start"
    )
    attempts, failed = F.col("attempts"), F.col("failed")
    expected = F.col("usual_share") * F.col("network_attempts")
    typical = F.greatest(F.coalesce(F.col("typical_failure"), F.lit(0.0)), F.lit(MIN_TYPICAL_RATE))
    typical_drop = F.greatest(F.coalesce(F.col("typical_drop"), F.lit(0.0)), F.lit(MIN_TYPICAL_RATE))
    failure_rate = F.try_divide(failed, attempts)
    drop_rate = F.try_divide(F.col("dropped"), F.col("answered"))
    has_baseline = F.col("baseline_windows") >= MIN_BASELINE_WINDOWS
    rules_fired = [
        (
            "failure_spike",
            (failed >= rules.min_failures)
            & (failure_rate >= typical + rules.failure_points)
            & (deviation(failed, typical * attempts) >= rules.failure_sigmas),
            failure_rate,
            typical + rules.failure_points,
        ),
        (
            "drop_spike",
            (F.col("answered") >= rules.min_answered)
            & (drop_rate >= rules.drop_rate)
            & (deviation(F.col("dropped"), typical_drop * F.col("answered")) >= rules.drop_sigmas),
            drop_rate,
            F.lit(rules.drop_rate),
        ),
        (
            "traffic_drop",
            has_baseline
            & (expected >= rules.min_expected_attempts)
            & (attempts < expected * rules.traffic_drop_ratio)
            & (deviation(attempts, expected) >= rules.traffic_drop_sigmas),
            attempts.cast("double"),
            expected * rules.traffic_drop_ratio,
        ),
    ]
    alerts = None
    for name, fired, observed, threshold in rules_fired:
        rows = judged.where(fired).select(
            F.sha2(
                F.concat_ws("|", F.lit(name), "network_element_id", F.col("window_start").cast("string")), 256
            ).alias("alert_id"),
            F.lit(name).alias("alert_type"),
            "network_element_id",
            "window_start",
            "window_end",
            "attempts",
            observed.cast("double").alias("observed"),
            threshold.cast("double").alias("threshold"),
            expected.cast("double").alias("baseline_attempts"),
            F.current_timestamp().alias("raised_at"),
        )
        alerts = rows if alerts is None else alerts.unionByName(rows)
    assert alerts is not None
    return alerts


def still_to_write(batch_id: int, alerts_done: int, windows_done: int) -> tuple[bool, bool]:
    """(alerts, windows): whether micro-batch ``batch_id`` has yet to be written to each table,
    given the last micro-batch each table's ledger records.

    Each table answers for itself, so a replay after a crash at any point writes neither twice:
    before the alerts commit, both are due; between the two commits, only the windows; after the
    windows commit (the last), nothing. The windows are judged in the micro-batch whose alerts
    commit they follow, so once they are in, the alerts are too (a batch that raised none has no
    alerts commit at all: its alerts ledger stays behind, which must not make it judge again).
    """
    windows = batch_id > windows_done
    return windows and batch_id > alerts_done, windows


class AlertWriter:
    """``foreachBatch`` of the alerts query: store closed windows, judge them, publish alerts.

    Each commit records the query id and micro-batch id in the summary of the table it writes
    (``ledger.micro_batch_property``); a micro-batch replayed after a crash skips each table
    whose ledger already has it, so neither alerts nor windows land twice.
    """

    def __init__(
        self, settings: LakehouseSettings, tables: StreamTables, checkpoint: Path, topic: str = ""
    ) -> None:
        self.settings = settings
        self.metrics = AlertQueryMetrics(settings, topic or settings.kafka.cdr_topic)
        self.rules = settings.stream.alerts
        catalog = settings.catalog.name
        self.windows_table = f"{catalog}.{tables.cell_windows}"
        self.alerts_table = f"{catalog}.{tables.alerts}"
        self.checkpoint = checkpoint
        self._done: dict[str, int] = {}  # per table, the last micro-batch in it: read once
        self._query_id = ""

    def _last_committed(self, spark: SparkSession, table: str) -> int:
        if table not in self._done:
            # Spark writes the query id into the checkpoint before the first micro-batch.
            self._query_id = json.loads((self.checkpoint / "metadata").read_text())["id"]
            self._done[table] = committed_micro_batch(spark, table, self._query_id)
        return self._done[table]

    def _append(self, rows: DataFrame, table: str, batch_id: int) -> None:
        """Append ``rows`` to ``table``, recording ``batch_id`` in the snapshot it commits."""
        marker = {f"snapshot-property.{micro_batch_property(self._query_id)}": str(batch_id)}
        rows.writeTo(table).options(**marker).append()
        self._done[table] = batch_id

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        began = time.monotonic()
        windows = batch.persist()
        try:
            # Evaluated even when skipped: Spark commits the window state as the batch runs.
            closed = windows.count()
            alerts_due, windows_due = still_to_write(
                batch_id,
                self._last_committed(spark, self.alerts_table),
                self._last_committed(spark, self.windows_table),
            )
            if not windows_due:
                log.info("alerts batch %d was committed before a restart: skipped", batch_id)
                return
            if closed == 0:
                return
            raised = self._judge_and_raise(spark, windows, batch_id) if alerts_due else 0
            # The windows commit goes last: its ledger says the whole micro-batch is done.
            self._append(windows, self.windows_table, batch_id)
            log.info(
                "alerts batch %d: %d windows closed, %d alerts%s in %.1fs",
                batch_id,
                closed,
                raised,
                "" if alerts_due else " (committed before a restart)",
                time.monotonic() - began,
            )
            self.metrics.committed(raised)
        finally:
            windows.unpersist()

    def _judge_and_raise(self, spark: SparkSession, windows: DataFrame, batch_id: int) -> int:
        """Judge the closed ``windows``; publish and commit the alerts raised; how many."""
        first = windows.agg(F.min("window_start")).first()[0]
        lookback = first.timestamp() - baseline_span_seconds(self.rules)
        # Earlier windows of this same micro-batch count too: after a lull (or a late burst)
        # one batch may close several windows of a cell at once. None of this batch's windows
        # is in the table yet: its windows commit comes after this.
        keep = ["network_element_id", "window_start", "attempts", "failed", "answered", "dropped"]
        history = (
            spark.table(self.windows_table)
            .where(F.col("window_start") >= F.to_timestamp(F.lit(lookback)))
            .select(*keep)
            .unionByName(windows.select(*keep))
        )
        alerts = judge(windows, history, self.rules).persist()
        try:
            raised = alerts.count()
            if raised:
                # Published before the commit: a crash in between publishes them again (at least
                # once on the topic; the alert id lets a consumer drop the repeat).
                self._publish(alerts)
                self._append(alerts, self.alerts_table, batch_id)
                failpoints.reach(self.settings.stream.failpoints_dir, AFTER_ALERTS_COMMIT)
            return raised
        finally:
            alerts.unpersist()

    def _publish(self, alerts: DataFrame) -> None:
        (
            alerts.select(
                F.col("alert_id").cast("binary").alias("key"),
                F.to_json(F.struct(*alerts.columns)).alias("value"),
            )
            .write.format("kafka")
            .options(**clients.spark_kafka_options(self.settings, "stream"))
            .option("topic", self.settings.kafka.alerts_topic)
            .save()
        )


def start_alert_query(spark: SparkSession, settings: LakehouseSettings, topic: str) -> StreamingQuery:
    """Start the alerts query on ``topic`` from its checkpoint."""
    tables = StreamTables.of(settings.namespaces)
    checkpoint = checkpoint_dir(settings, topic, "alerts")
    return (
        cell_windows(kafka_stream(spark, settings, topic), settings.stream.alerts)
        .writeStream.queryName(f"alerts:{topic}")
        .outputMode("append")
        .foreachBatch(AlertWriter(settings, tables, checkpoint, topic))
        .option("checkpointLocation", str(checkpoint))
        .trigger(processingTime=f"{settings.stream.alerts.trigger_seconds} seconds")
        .start()
    )
