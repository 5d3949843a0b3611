"""How well the stream's real-time alerts find what the live producer injected.

The same scoring as the batch detectors' (``analytics.anomaly_scores``), per cell and alert
window instead of per cell-hour, against ``<raw>_truth.live_incidents``:

- precision per alert type: the share of alerts raised on a (cell, window) that an incident of
  that cell overlaps;
- recall per incident type: the share of incident (cell, window)s the stream closed that got any
  alert, counting a window when the incident covers at least ``min_cover`` of it (a two-minute
  tail of an outage in a fifteen-minute window is not a visible drop of that window), and when
  the element carried, or usually carried at that time of day on the days before, the attempts
  a window needs to judge its traffic (``stream.alerts.min_expected_attempts``). Windows quieter than that are
  reported apart (``recall_quiet``): a DSLAM with eight calls a quarter-hour, a quarter of them
  failing, is not a statistically visible spike in one window (the hourly batch detector, with
  four times the counts, is the one that finds those).

Only the windows of one producer run are scored: those inside its cycles' span and up to the
last window the stream has closed (later incidents are not late detections: nothing judged them
yet). Elements the stream never saw are left out, and so are SIM-box rings: lines, not cells,
which the batch detector (``simbox_suspects``) scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import clients
from core.contracts.stream_tables import StreamTables, live_truth_table
from core.exceptions import NoLiveTruthError
from core.settings import LakehouseSettings

DEFAULT_MIN_COVER = 0.5  # as the batch scoring's `score_min_hour_cover`


@dataclass(frozen=True)
class AlertScore:
    metric: str  # precision | recall | recall_quiet
    type_name: str  # an alert type (precision), an incident type (recall), or "all"
    scored: int  # alerts judged (precision) or incident windows to find (recall)
    matched: int

    @property
    def score(self) -> float | None:
        return self.matched / self.scored if self.scored else None


@dataclass(frozen=True)
class RunScores:
    run_id: str
    windows_closed: int
    scores: list[AlertScore]

    def of(self, metric: str, type_name: str) -> AlertScore | None:
        return next((s for s in self.scores if (s.metric, s.type_name) == (metric, type_name)), None)


def latest_run(settings: LakehouseSettings) -> str:
    """The producer run that recorded its truth last."""
    rows = clients.trino_query(
        settings,
        f"SELECT max_by(run_id, cycle_start) FROM {live_truth_table(settings.namespaces.raw)}",
    )
    if not rows or rows[0][0] is None:
        raise NoLiveTruthError("no live producer run has recorded its incidents yet: `make stream` first")
    return str(rows[0][0])


def score_realtime_alerts(
    settings: LakehouseSettings, run_id: str | None = None, min_cover: float = DEFAULT_MIN_COVER
) -> RunScores:
    """Precision per alert type and recall per incident type of ``run_id`` (default: the last)."""
    if not 0 < min_cover <= 1:
        raise ValueError(f"min_cover must be in (0, 1], got {min_cover}")
    run_id = run_id or latest_run(settings)
    tables = StreamTables.of(settings.namespaces)
    sql = SCORING_SQL.format(
        truth=live_truth_table(settings.namespaces.raw),
        windows=tables.cell_windows,
        alerts=tables.alerts,
        min_cover=float(min_cover),
        min_traffic=float(settings.stream.alerts.min_expected_attempts),
    )
    # The run id is data: a bound parameter, never SQL text.
    rows = clients.trino_query(settings, sql, params=[run_id])
    if not rows:
        raise NoLiveTruthError(f"no live truth recorded for run {run_id!r}")
    windows_closed = int(rows[0][4] or 0)
    scores = [
        AlertScore(metric, name, int(scored), int(matched)) for metric, name, scored, matched, _ in rows
    ]
    return RunScores(run_id, windows_closed, [s for s in scores if s.metric != "none"])


SCORING_SQL = """
WITH run AS (
    SELECT incident_type, element_id, start_time, end_time, cycle_start, cycle_end
    FROM {truth} WHERE run_id = ?
),
span AS (SELECT min(cycle_start) AS first_start, max(cycle_end) AS last_end FROM run),
windows AS (
    SELECT w.network_element_id, w.window_start, w.window_end, w.attempts
    FROM {windows} AS w CROSS JOIN span
    WHERE w.window_start >= span.first_start AND w.window_end <= span.last_end
),
closed AS (SELECT DISTINCT window_start, window_end FROM windows),
seen AS (SELECT DISTINCT network_element_id FROM windows),
alerts AS (
    SELECT DISTINCT a.alert_type, a.network_element_id, a.window_start
    FROM {alerts} AS a CROSS JOIN span
    WHERE a.window_start >= span.first_start AND a.window_end <= span.last_end
),
incident_windows AS (
    SELECT
        run.incident_type,
        run.element_id AS network_element_id,
        closed.window_start,
        max(
            date_diff('millisecond', greatest(run.start_time, closed.window_start),
                      least(run.end_time, closed.window_end))
        ) / CAST(date_diff('millisecond', closed.window_start, closed.window_end) AS double) AS cover
    FROM run
    JOIN seen ON run.element_id = seen.network_element_id
    JOIN closed ON run.end_time > closed.window_start AND closed.window_end > run.start_time
    WHERE run.incident_type <> 'simbox'
    GROUP BY run.incident_type, run.element_id, closed.window_start, closed.window_end
),
flags AS (
    SELECT alerts.alert_type, count(incident_windows.network_element_id) > 0 AS is_real
    FROM alerts LEFT JOIN incident_windows
        ON alerts.network_element_id = incident_windows.network_element_id
        AND alerts.window_start = incident_windows.window_start
    GROUP BY alerts.alert_type, alerts.network_element_id, alerts.window_start
),
traffic AS (
    -- What the window carried, and what the element usually carried at that time of day on the
    -- days before (all a stream can know: a day with no day before it has no usual traffic).
    SELECT
        incident_windows.network_element_id,
        incident_windows.window_start,
        max(CASE WHEN other.window_start = incident_windows.window_start THEN other.attempts END) AS attempts,
        approx_percentile(
            CASE WHEN other.window_start < incident_windows.window_start THEN other.attempts END, 0.5
        ) AS usual_attempts
    FROM (SELECT DISTINCT network_element_id, window_start FROM incident_windows) AS incident_windows
    JOIN windows AS other
        ON other.network_element_id = incident_windows.network_element_id
        AND other.window_start <= incident_windows.window_start
        AND date_diff('second', other.window_start, incident_windows.window_start) % 86400 = 0
    GROUP BY incident_windows.network_element_id, incident_windows.window_start
),
found AS (
    SELECT
        incident_windows.incident_type,
        count(alerts.alert_type) > 0 AS is_found,
        greatest(coalesce(max(traffic.attempts), 0), coalesce(max(traffic.usual_attempts), 0))
            >= {min_traffic} AS is_judgeable
    FROM incident_windows
    LEFT JOIN traffic
        ON incident_windows.network_element_id = traffic.network_element_id
        AND incident_windows.window_start = traffic.window_start
    LEFT JOIN alerts
        ON incident_windows.network_element_id = alerts.network_element_id
        AND incident_windows.window_start = alerts.window_start
    WHERE incident_windows.cover >= {min_cover}
    GROUP BY incident_windows.incident_type, incident_windows.network_element_id,
        incident_windows.window_start
),
scores AS (
    SELECT 'precision' AS metric, alert_type AS type_name, count(*) AS scored, count_if(is_real) AS matched
    FROM flags GROUP BY alert_type
    UNION ALL
    SELECT 'precision', 'all', count(*), count_if(is_real) FROM flags
    UNION ALL
    SELECT 'recall', incident_type, count(*), count_if(is_found) FROM found WHERE is_judgeable
    GROUP BY incident_type
    UNION ALL
    SELECT 'recall', 'all', count(*), count_if(is_found) FROM found WHERE is_judgeable
    UNION ALL
    SELECT 'recall_quiet', incident_type, count(*), count_if(is_found) FROM found WHERE NOT is_judgeable
    GROUP BY incident_type
    UNION ALL
    -- Always one row, so an unknown run and a run with nothing closed yet tell apart.
    SELECT 'none', 'none', 0, 0 FROM span WHERE first_start IS NOT NULL
)
SELECT scores.metric, scores.type_name, scores.scored, scores.matched,
    (SELECT count(*) FROM windows) AS windows_closed
FROM scores
ORDER BY scores.metric, scores.type_name
"""
