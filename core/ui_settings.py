"""The generator's web UI: where it listens and how big its preview sample is.

``core.settings`` mounts this as ``LakehouseSettings.ui`` (``LAKEHOUSE_UI__PORT`` and so on).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class UiSettings(BaseModel):
    """The Streamlit page started by ``make ui`` (a process of ours, never an external one)."""

    host: str = Field("127.0.0.1", description="Address the page binds; loopback unless you mean it.")
    port: int = Field(8501, ge=1, le=65535, description="HTTP port of the generator's web page.")
    # The preview generates this many subscribers for one day with the scenario's own seed and
    # scales the counts up: seconds, not minutes, and the same code path as a real run.
    preview_subscribers: int = Field(
        2000, ge=10, le=100_000, description="Subscribers the preview samples (one day)."
    )
