"""Launcher error paths, driven by throwaway real processes in place of the servers."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path

import pytest

from core.exceptions import PortInUseError, PrerequisiteError, ServiceStartError
from core.settings import LakehouseSettings, ServiceSettings
from infra.artifacts import ArtifactCache
from infra.launcher import Launcher
from infra.process import free_port
from infra.services.base import Health, Port, Service
from infra.services.postgres import PostgresService


class ScriptService(Service):
    """A 'server' that is a Python one-liner; healthy once its log says so."""

    name = "script"

    def __init__(self, settings: LakehouseSettings, name: str, code: str, port: int) -> None:
        self.name = name  # type: ignore[misc]
        super().__init__(settings, ArtifactCache(settings.cache_dir, "http://127.0.0.1:9"))
        self.code = code
        self._endpoint = ServiceSettings(port=port)

    @property
    def endpoint(self) -> ServiceSettings:
        return self._endpoint

    def ports(self) -> list[Port]:
        return [Port(self._endpoint.port, f"LAKEHOUSE_{self.name.upper()}__PORT")]

    def url(self) -> str:
        return f"script://{self.name}"

    def start(self) -> None:
        self.process.start([sys.executable, "-c", self.code])

    def check(self) -> Health:
        return Health("READY" in self.process.tail(), "log says READY")

    def startup_timeout(self) -> float:
        return 3.0


HEALTHY = "import time; print('READY', flush=True); time.sleep(120)"
CRASHES = "import sys; print('fatal: cannot open data dir', flush=True); sys.exit(1)"
NEVER_READY = "import time; print('still booting', flush=True); time.sleep(120)"


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return LakehouseSettings(_env_file=None, home=tmp_path / "state", cache_dir=tmp_path / "cache")


def test_up_starts_then_down_stops_everything(settings: LakehouseSettings) -> None:
    services = [ScriptService(settings, f"svc{i}", HEALTHY, free_port()) for i in range(2)]
    launcher = Launcher(settings, services=services)
    rows = launcher.up()
    assert [r.health.ok for r in rows] == [True, True]
    pids = [r.pid for r in rows]
    assert all(pids)
    # A second `up` finds them running and keeps the same processes.
    assert [r.pid for r in launcher.up()] == pids
    assert sorted(launcher.down()) == ["svc0", "svc1"]
    assert [s.process.pid() for s in services] == [None, None]


def test_a_crashing_service_reports_its_log_and_nothing_is_left_running(settings: LakehouseSettings) -> None:
    first = ScriptService(settings, "first", HEALTHY, free_port())
    broken = ScriptService(settings, "broken", CRASHES, free_port())
    launcher = Launcher(settings, services=[first, broken])
    with pytest.raises(ServiceStartError) as caught:
        launcher.up()
    message = str(caught.value)
    assert "broken did not become healthy" in message
    assert "fatal: cannot open data dir" in message
    assert str(broken.process.log_file) in message
    assert first.process.pid() is None, "the healthy service started by this run must be stopped"


def test_a_service_that_never_gets_healthy_times_out_with_its_log(settings: LakehouseSettings) -> None:
    slow = ScriptService(settings, "slow", NEVER_READY, free_port())
    with pytest.raises(ServiceStartError, match=r"no healthy answer within 3s[\s\S]*still booting"):
        Launcher(settings, services=[slow]).up()
    assert slow.process.pid() is None


def test_a_busy_port_names_the_port_and_the_setting(settings: LakehouseSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        first = ScriptService(settings, "first", HEALTHY, free_port())
        blocked = ScriptService(settings, "blocked", HEALTHY, port)
        with pytest.raises(PortInUseError) as caught:
            Launcher(settings, services=[first, blocked]).up()
    assert str(port) in str(caught.value)
    assert "LAKEHOUSE_BLOCKED__PORT" in str(caught.value)
    assert first.process.pid() is None


def test_missing_postgres_binaries_say_how_to_get_them(
    settings: LakehouseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.services.postgres.find_bin_dir", lambda: None)
    service = PostgresService(settings, ArtifactCache(settings.cache_dir, "http://127.0.0.1:9"))
    with pytest.raises(PrerequisiteError, match="apt-get install postgresql"):
        service.bin_dir()


def test_restart_brings_back_one_killed_service_and_leaves_the_others(settings: LakehouseSettings) -> None:
    kept = ScriptService(settings, "kept", HEALTHY, free_port())
    crashed = ScriptService(settings, "crashed", HEALTHY, free_port())
    launcher = Launcher(settings, services=[kept, crashed])
    launcher.up()
    kept_pid, crashed_pid = kept.process.pid(), crashed.process.pid()
    try:
        crashed.process.stop(timeout=0, first_signal=signal.SIGKILL)  # a crash, not a stop
        assert crashed.process.pid() is None
        assert launcher.restart("crashed") >= 0
        assert crashed.process.pid() not in (None, crashed_pid)
        assert kept.process.pid() == kept_pid
        assert [row.health.ok for row in launcher.status()] == [True, True]
    finally:
        launcher.down()


def test_restart_of_a_service_that_stays_down_fails_with_its_log_and_leaves_nothing(
    settings: LakehouseSettings,
) -> None:
    broken = ScriptService(settings, "broken", CRASHES, free_port())
    with pytest.raises(ServiceStartError, match="fatal: cannot open data dir"):
        Launcher(settings, services=[broken]).restart("broken")
    assert broken.process.pid() is None


def test_restart_waits_for_a_crashed_servers_port_to_be_released(settings: LakehouseSettings) -> None:
    with socket.socket() as leftover:  # what a dead server's unclosed sockets look like to bind()
        leftover.bind(("127.0.0.1", 0))
        leftover.listen()
        service = ScriptService(settings, "svc", HEALTHY, leftover.getsockname()[1])
        release = threading.Timer(1.0, leftover.close)
        release.start()
        launcher = Launcher(settings, services=[service])
        try:
            assert launcher.restart("svc") >= 0
            assert service.process.pid() is not None
        finally:
            release.cancel()
            launcher.down()


class SecretService(ScriptService):
    """A 'server' that, like MinIO or Trino, reads a secret only when it starts."""

    secret = "first-secret"

    def credentials(self) -> list[str]:
        return [self.secret]

    def start(self) -> None:
        super().start()
        self.record_credentials()


def test_up_restarts_a_running_server_only_when_its_start_time_credentials_changed(
    settings: LakehouseSettings,
) -> None:
    service = SecretService(settings, "vault", HEALTHY, free_port())
    launcher = Launcher(settings, services=[service])
    try:
        (first,) = launcher.up()
        assert "first-secret" not in (settings.run_dir / "vault.credentials").read_text()
        assert oct((settings.run_dir / "vault.credentials").stat().st_mode & 0o777) == "0o600"
        assert launcher.up()[0].pid == first.pid  # unchanged: left running
        service.secret = "rotated-secret"  # as after an edit of .env
        (second,) = launcher.up()
        assert second.pid != first.pid and second.health.ok
        assert not service.credentials_changed()
    finally:
        launcher.down()
