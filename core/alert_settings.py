"""Settings of the stream's real-time alert rules (``stream.alerts``), apart from the rest of
the settings so that the rules read as one piece; ``core.settings`` nests them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AlertSettings(BaseModel):
    """Real-time alert rules on KPIs per cell and event-time window (the job's second query).

    Windows are in event time. The defaults suit the generator's 20,000 subscribers, whose busy
    cells see a few hundred attempts an hour: a real network's cells carry enough for 1-minute
    windows (window_seconds=60).
    """

    enabled: bool = Field(True, description="Run the alerts query beside the CDR query.")
    trigger_seconds: float = Field(
        30.0, gt=0, le=3600, description="Alerts micro-batch interval (each costs a few commits)."
    )
    window_seconds: int = Field(900, ge=5, le=86_400, description="Tumbling window per cell.")
    lateness_seconds: int = Field(300, ge=0, le=86_400, description="Watermark: how late events may come.")
    min_failures: int = Field(3, ge=1, description="Failed attempts a failure_spike needs.")
    failure_points: float = Field(
        0.12, gt=0, le=1, description="Failed share this far above the cell's typical share alerts."
    )
    failure_sigmas: float = Field(
        3.5, gt=0, le=50, description="...and this many deviations (Poisson) over the failures expected."
    )
    drop_rate: float = Field(0.15, gt=0, le=1, description="Dropped share of answered calls that alerts.")
    min_answered: int = Field(30, ge=1, description="Answered calls a window needs for its drop rate.")
    drop_sigmas: float = Field(
        4.0, gt=0, le=50, description="...and this many deviations (Poisson) over the drops expected."
    )
    traffic_drop_ratio: float = Field(
        0.4, gt=0, lt=1, description="Attempts below this x the cell's expected attempts alert..."
    )
    traffic_drop_sigmas: float = Field(
        4.5, gt=0, le=50, description="...when also this many Poisson deviations below them."
    )
    min_expected_attempts: float = Field(
        20.0, gt=0, description="Expected attempts a window needs before a traffic_drop is judged."
    )
    baseline_days: int = Field(
        7, ge=1, le=28, description="Days before a window whose same time of day makes its baselines."
    )
