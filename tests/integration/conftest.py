"""A whole stack for the test session: its own free ports and state dir, never the user's stack."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.kafka_auth import KAFKA_IDENTITIES
from core.settings import LakehouseSettings
from infra.launcher import Launcher
from infra.process import free_port
from tests.integration.alerts import webhook  # noqa: F401 - a session fixture any test may use
from tests.integration.browser import (  # noqa: F401 - fixtures of the browser tests
    superset_admin,
    superset_browser,
    superset_database,
    superset_url,
)


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def make_test_settings(home: Path) -> LakehouseSettings:
    pg, s3, console, trino, trino_internal, kafka, controller, superset, ui, *monitoring = (
        _distinct_free_ports(15)
    )
    prometheus, alertmanager, pg_exporter, exporter, kafka_jmx, webhook_port = monitoring
    return LakehouseSettings(
        _env_file=None,
        home=home,
        ui={"port": ui},
        postgres={"port": pg, "password": secrets.token_urlsafe(16)},
        s3={
            "port": s3,
            "console_port": console,
            "secret_key": secrets.token_urlsafe(24),
            "trino_secret_key": secrets.token_urlsafe(24),
            "spark_secret_key": secrets.token_urlsafe(24),
            "reader_secret_key": secrets.token_urlsafe(24),
            "root_password": secrets.token_urlsafe(24),
        },
        # Maintenance tests expire every snapshot at once: no retention floor on the test stack.
        trino={
            "port": trino,
            "internal_port": trino_internal,
            "password": secrets.token_urlsafe(18),
            "analyst_password": secrets.token_urlsafe(18),
            "monitoring_password": secrets.token_urlsafe(18),
            "shared_secret": secrets.token_urlsafe(36),
            "heap": "2G",
            "query_max_memory_per_node": "768MB",
            "maintenance_min_retention": "0s",
        },
        kafka={
            "port": kafka,
            "controller_port": controller,
            "heap": "384M",
            **{f"{identity}_password": secrets.token_urlsafe(24) for identity in KAFKA_IDENTITIES},
        },
        superset={
            "port": superset,
            "admin_password": secrets.token_urlsafe(18),
            "secret_key": secrets.token_urlsafe(36),
            "db_password": secrets.token_urlsafe(18),
        },
        # Alerts go to a receiver that the monitoring tests serve at that address.
        monitoring={
            "prometheus": {"port": prometheus},
            "alertmanager": {"port": alertmanager},
            "postgres_exporter": {"port": pg_exporter, "db_password": secrets.token_urlsafe(18)},
            "exporter": {"port": exporter},
            "kafka_jmx": {"port": kafka_jmx},
            # Short enough for the monitoring tests to see the stream stall within a minute.
            "thresholds": {"stream_stalled_s": 15},
            "webhook_url": f"http://127.0.0.1:{webhook_port}/alerts",
        },
        pseudonym_key=secrets.token_urlsafe(24),
    )


@pytest.fixture(scope="session")
def stack_home() -> Iterator[Path]:
    # Not pytest's tmp_path: that is 0700 and, as root, the `postgres` user must reach the data.
    home = Path(tempfile.mkdtemp(prefix="lakehouse-it-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def launcher(stack_home: Path) -> Iterator[Launcher]:
    """Starts the stack once for the session; a service that cannot start fails the tests."""
    launcher = Launcher(make_test_settings(stack_home))
    try:
        launcher.up()
        yield launcher
    finally:
        launcher.down()
        leftovers = [s.name for s in launcher.services if s.process.pid() is not None]
        assert not leftovers, f"processes left running: {leftovers}"


@pytest.fixture(scope="session")
def settings(launcher: Launcher) -> LakehouseSettings:
    return launcher.settings


LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


def run_cli(
    settings: LakehouseSettings, *args: str, check: bool = True, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """`lakehouse <args>` as a user would run it, configured with exactly these settings."""
    result = subprocess.run(
        [LAKEHOUSE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings.to_env()},
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
