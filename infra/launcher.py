"""Bring the stack up, down, and report on it."""

from __future__ import annotations

import fcntl
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from core.exceptions import LakehouseError, PortInUseError, ServiceStartError
from core.settings import PROJECT_ROOT, LakehouseSettings
from infra.process import port_is_free
from infra.services import Health, Service, build_services

log = logging.getLogger(__name__)
# Seconds a restart waits for a crashed server's ports (Linux keeps orphaned sockets up to 60 s).
PORT_RELEASE_TIMEOUT = 90.0


@dataclass(frozen=True)
class ServiceStatus:
    """One row of `lakehouse status`."""

    name: str
    managed: bool
    pid: int | None
    ports: tuple[int, ...]
    url: str
    health: Health
    rss_bytes: int | None


def check_ports(service: Service) -> None:
    """Fail with the port and the setting that moves it when another process holds a port."""
    for port in service.ports():
        if not port_is_free(service.endpoint.host, port.number):
            raise PortInUseError(port.number, port.setting, service.name)


class Launcher:
    """Starts, checks and stops the services named in the settings."""

    def __init__(
        self,
        settings: LakehouseSettings,
        console: Console | None = None,
        services: list[Service] | None = None,
    ) -> None:
        self.settings = settings
        self.console = console or Console(stderr=True)
        self.services: list[Service] = services if services is not None else build_services(settings)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One launcher at a time per state dir (a second `up` waits rather than races)."""
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.run_dir / "launcher.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self) -> list[ServiceStatus]:
        """Install what is missing, start every managed service, wait until all are healthy."""
        managed = [s for s in self.services if s.managed]
        with self._exclusive():
            for service in managed:
                with self.console.status(f"installing {service.name} (cached after the first time)"):
                    service.install()
            started: list[Service] = []
            ready: set[str] = set()

            def make_ready(service: Service) -> None:
                if service.name in ready:
                    return
                began = time.monotonic()
                self._wait_healthy(service)
                service.provision()
                ready.add(service.name)
                verb = "started" if service in started else "ready"
                self.console.print(
                    f"{service.name}: {verb} in {time.monotonic() - began:.1f}s — {service.url()}"
                )

            try:
                for service in self.services:
                    # Servers start side by side, except one that needs another provisioned
                    # first (Superset runs its schema migrations in PostgreSQL as it starts).
                    for name in service.after:
                        make_ready(self.service(name))
                    if not service.managed:
                        continue
                    if service.process.is_running():
                        pid = service.process.pid()
                        if not service.credentials_changed():
                            self.console.print(f"{service.name}: already running (pid {pid})")
                            continue
                        # It reads them only at start: a password changed in .env takes effect now.
                        self.console.print(f"{service.name}: credentials changed, restarting")
                        service.stop()
                        self._wait_ports_released(service)
                    check_ports(service)
                    service.start()
                    started.append(service)
                for service in self.services:
                    make_ready(service)
            except BaseException:
                # Leave nothing half-started: stop exactly what this run started.
                for service in reversed(started):
                    service.stop()
                raise
        return self.status()

    def restart(self, name: str) -> float:
        """Restart the one managed service ``name`` and wait until it is healthy again.

        Re-verifies its cached server (``install``), stops it if it runs (a no-op after a crash:
        the stale pid file is dropped), starts it on the same ports and data, waits for health
        and provisions it (idempotent). The other services are left alone. Returns the seconds
        from the start until healthy; raises ServiceStartError (with its log) when it does not
        come back, LakehouseError when the service is external (not ours to restart).
        """
        service = self.service(name)
        if not service.managed:
            raise LakehouseError(f"{name} is external (managed=false): the launcher does not restart it")
        with self._exclusive():
            # Re-verify the cached server before running it again (SECURITY.md, "Supply chain").
            service.install()
            service.stop()
            self._wait_ports_released(service)
            began = time.monotonic()
            service.start()
            try:
                self._wait_healthy(service)
                service.provision()
            except BaseException:
                service.stop()  # leave nothing half-started, as `up` does
                raise
            return time.monotonic() - began

    @staticmethod
    def _wait_ports_released(service: Service, timeout: float = PORT_RELEASE_TIMEOUT) -> None:
        """After a crash the server's sockets can hold its ports for a while (connections its
        clients have not closed yet): wait for them, then name a port still taken."""
        Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.5),
            retry=retry_if_exception_type(PortInUseError),
            reraise=True,
        )(check_ports, service)

    def _wait_healthy(self, service: Service) -> None:
        timeout = service.startup_timeout()
        began = time.monotonic()
        with self.console.status(f"waiting for {service.name}") as spinner:

            def probe() -> Health:
                spinner.update(f"waiting for {service.name} ({time.monotonic() - began:.0f}s)")
                if service.managed and not service.process.is_running():
                    raise ServiceStartError(
                        service.name, "the process exited", service.process.log_file, service.process.tail()
                    )
                return service.ready()

            retrying = Retrying(
                stop=stop_after_delay(timeout),
                wait=wait_fixed(0.5),
                retry=retry_if_result(lambda health: not health.ok),
            )
            try:
                retrying(probe)
            except RetryError as exc:
                last = exc.last_attempt.result()
                raise ServiceStartError(
                    service.name,
                    f"no healthy answer within {timeout:.0f}s (last: {last.detail})",
                    service.process.log_file if service.managed else None,
                    service.process.tail() if service.managed else "",
                ) from None

    def down(self) -> list[str]:
        """Stop every managed service, dependants first. Returns the names that were running."""
        stopped = []
        with self._exclusive():
            for service in reversed(self.services):
                if service.managed and service.stop():
                    stopped.append(service.name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        rows = []
        for service in self.services:
            pid = service.process.pid() if service.managed else None
            not_running = service.managed and pid is None
            health = Health(False, "not running") if not_running else service.check()
            rows.append(
                ServiceStatus(
                    name=service.name,
                    managed=service.managed,
                    pid=pid,
                    ports=tuple(p.number for p in service.ports()),
                    url=service.url(),
                    health=health,
                    rss_bytes=service.process.rss_bytes() if service.managed else None,
                )
            )
        return rows

    def clean(self) -> None:
        """Stop the stack and delete its state dir (data, logs, configs). The cache is kept."""
        self.down()
        home = self.settings.home
        if home in (Path("/"), Path.home(), PROJECT_ROOT):
            raise LakehouseError(f"refusing to delete {home}: LAKEHOUSE_HOME must be a dedicated directory")
        shutil.rmtree(home, ignore_errors=True)
