"""Superset: the dashboards' web server, its metadata database and its admin identity.

Superset reads the lakehouse through Trino as the **analyst** identity (TrinoSettings): the
published analytics marts, read-only. Its own state (users, dashboards, charts) lives in a
database of the project's PostgreSQL, with a role of its own. ``core.settings`` mounts this as
``LakehouseSettings.superset`` (``LAKEHOUSE_SUPERSET__PORT`` and so on).
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from core.service_settings import ServiceSettings

_NAME = r"^[a-z][a-z0-9_]*$"


class SupersetSettings(ServiceSettings):
    """Apache Superset, served by gunicorn on ``host:port`` (managed) or an existing one."""

    port: int = Field(8088, ge=1, le=65535, description="HTTP port of the web UI and REST API.")
    admin_user: str = Field("admin", pattern=r"^[A-Za-z0-9._@-]+$", description="Superset's admin login.")
    admin_password: SecretStr = Field(SecretStr(""), description="Generated into .env by `lakehouse up`.")
    secret_key: SecretStr = Field(
        SecretStr(""), description="Signs sessions and encrypts stored database passwords (managed only)."
    )
    database: str = Field("superset", pattern=_NAME, description="Metadata database in the PostgreSQL.")
    db_user: str = Field("superset", pattern=_NAME, description="Role owning the metadata database.")
    db_password: SecretStr = SecretStr("")
    # Two cores: one process, a few threads. A chart's query waits on Trino, not on Python, so
    # threads (not processes) are what lets a dashboard's charts load side by side.
    workers: int = Field(1, ge=1, le=64, description="gunicorn worker processes.")
    threads: int = Field(4, ge=1, le=64, description="Threads per worker (charts load in parallel).")
    cache_timeout_s: int = Field(
        300, ge=0, le=86_400, description="Seconds a chart's result is reused (0: always ask Trino)."
    )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
