"""Check the dashboards from the outside after `make pipeline` (`python -m app.dashboards_smoke`).

Logs in to Superset as its admin and asks for every chart of every dashboard through the chart
data API, as a dashboard would: each must answer without an error, and with rows unless it shows
the stream's real-time tables. Prints the charts and their timings; exits non-zero
naming each chart that failed.
"""

from __future__ import annotations

import statistics
import sys

from core.settings import load_settings
from infra.superset_api import SupersetClient

# Datasets over the stream's tables may rightly be empty: no alert raised is a healthy network, and
# a real-time window is written only once the watermark has passed it.
MAY_BE_EMPTY_PREFIX = "realtime_"


def main() -> int:
    settings = load_settings()
    client = SupersetClient(settings.superset)
    dashboards = client.dashboards()
    rows = client.get("/api/v1/dataset/", q="(columns:!(id,table_name),page_size:100)")["result"]
    tables = {row["id"]: row["table_name"] for row in rows}
    failures, timings = [], []
    for dashboard in dashboards:
        for chart in client.dashboard_charts(dashboard["id"]):
            result = client.chart_data(chart["id"], chart["slice_name"], force=True)
            timings.append(result.seconds)
            where = f"{dashboard['dashboard_title']} / {chart['slice_name']}"
            dataset_id = int(str(chart["form_data"]["datasource"]).split("__")[0])
            may_be_empty = tables.get(dataset_id, "").startswith(MAY_BE_EMPTY_PREFIX)
            if result.error:
                failures.append(f"{where}: {result.error}")
            elif not result.rows and not may_be_empty:
                failures.append(f"{where}: no rows")
    if not timings:
        failures.append("no dashboard has a chart: was dashboards/bundle imported (make dashboards)?")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if timings:
        print(
            f"{len(dashboards)} dashboards, {len(timings)} charts answered through Superset: "
            f"min {min(timings):.2f} s, median {statistics.median(timings):.2f} s, max {max(timings):.2f} s"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
