"""Pinned server artifacts: downloaded once into a cache outside the repo and verified.

Layout of the cache (``LAKEHOUSE_CACHE_DIR``, default ``~/.cache/cdr-lakehouse``)::

    maven/<group path>/<artifact>/<version>/<file>   verified downloads, Maven layout
    trino/<version>/                                 server unpacked, Iceberg plugin inside
    kafka/<version>/libs/                            the broker's classpath
    minio/<version>/bin/minio                        built with `go install`

A directory is only used once its ``.complete`` marker exists, so an interrupted install is
redone rather than trusted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from core.exceptions import ArtifactError, PrerequisiteError

log = logging.getLogger(__name__)

PINS_FILE = Path(__file__).with_name("artifacts.toml")
COMPLETE = ".complete"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class MavenFile:
    """One file on a Maven repository, with the SHA-256 it must have."""

    group: str
    artifact: str
    extension: str
    version: str
    sha256: str

    @classmethod
    def parse(cls, coordinate: str, sha256: str) -> MavenFile:
        group, artifact, extension, version = coordinate.split(":")
        return cls(group, artifact, extension, version, sha256)

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.{self.extension}"

    @property
    def path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"


@dataclass(frozen=True)
class Pins:
    """The versions in ``infra/artifacts.toml``."""

    trino_version: str
    trino_files: tuple[MavenFile, ...]
    kafka_version: str
    kafka_files: tuple[MavenFile, ...]
    minio_module: str
    minio_version: str
    spark_version: str
    spark_files: tuple[MavenFile, ...]

    @classmethod
    def load(cls, path: Path = PINS_FILE) -> Pins:
        data = tomllib.loads(path.read_text(encoding="utf-8"))

        def files(section: str) -> tuple[MavenFile, ...]:
            return tuple(MavenFile.parse(f["coordinate"], f["sha256"]) for f in data[section]["files"])

        return cls(
            trino_version=data["trino"]["version"],
            trino_files=files("trino"),
            kafka_version=data["kafka"]["version"],
            kafka_files=files("kafka"),
            minio_module=data["minio"]["module"],
            minio_version=data["minio"]["version"],
            spark_version=data["spark"]["version"],
            spark_files=files("spark"),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactCache:
    """Fetches, verifies and unpacks the pinned servers."""

    def __init__(self, cache_dir: Path, maven_repository: str, pins: Pins | None = None) -> None:
        self.root = cache_dir
        self.maven_repository = maven_repository.rstrip("/")
        self.pins = pins or Pins.load()

    # -- Maven files -------------------------------------------------------------------------
    def maven_file(self, item: MavenFile, progress: Progress | None = None) -> Path:
        """Return the verified local copy of ``item``, downloading it if needed."""
        target = self.root / "maven" / item.path
        if target.exists() and sha256_of(target) == item.sha256:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        self._download(f"{self.maven_repository}/{item.path}", partial, item.filename, progress)
        actual = sha256_of(partial)
        if actual != item.sha256:
            partial.unlink(missing_ok=True)
            raise ArtifactError(
                f"{item.filename}: SHA-256 {actual} does not match the pinned {item.sha256} "
                f"(infra/artifacts.toml); the download was discarded"
            )
        partial.replace(target)
        return target

    @retry(
        retry=retry_if_exception_type((urllib.error.URLError, TimeoutError, ConnectionError)),
        stop=stop_after_attempt(4),
        wait=wait_exponential(min=1, max=10),
        reraise=True,
    )
    def _download(self, url: str, dest: Path, label: str, progress: Progress | None) -> None:
        log.debug("downloading %s", url)
        try:
            # The URL is the configured Maven repository (http/https) plus a pinned path.
            with urllib.request.urlopen(url, timeout=60) as response, dest.open("wb") as out:  # noqa: S310
                total = int(response.headers.get("Content-Length") or 0) or None
                task = progress.add_task(label, total=total) if progress else None
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    if progress is not None and task is not None:
                        progress.advance(task, len(chunk))
                if progress is not None and task is not None:
                    progress.remove_task(task)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise ArtifactError(f"{url} not found (HTTP 404)") from None
            raise

    # -- Installed servers -------------------------------------------------------------------
    def trino_home(self) -> Path:
        return self.root / "trino" / self.pins.trino_version

    def kafka_libs(self) -> Path:
        return self.root / "kafka" / self.pins.kafka_version / "libs"

    def minio_binary(self) -> Path:
        return self.root / "minio" / self.pins.minio_version / "bin" / "minio"

    def ensure_trino(self) -> Path:
        home = self.trino_home()
        if (home / COMPLETE).exists():
            return home
        server, iceberg = self.pins.trino_files
        with _progress() as progress:
            server_tar = self.maven_file(server, progress)
            iceberg_zip = self.maven_file(iceberg, progress)
        staging = _fresh_dir(home.with_name(home.name + ".staging"))
        with tarfile.open(server_tar) as archive:
            archive.extractall(staging, filter="data")
        (top,) = staging.iterdir()
        plugin_dir = top / "plugin" / "iceberg"
        with zipfile.ZipFile(iceberg_zip) as archive:
            archive.extractall(staging / "iceberg-zip")  # noqa: S202 - verified pinned archive
        (iceberg_top,) = (staging / "iceberg-zip").iterdir()
        iceberg_top.replace(plugin_dir)
        _publish(top, home)
        shutil.rmtree(staging, ignore_errors=True)
        return home

    def ensure_kafka(self) -> Path:
        libs = self.kafka_libs()
        if (libs / COMPLETE).exists():
            return libs
        staging = _fresh_dir(libs.with_name("libs.staging"))
        with _progress() as progress:
            for item in self.pins.kafka_files:
                shutil.copy2(self.maven_file(item, progress), staging / item.filename)
        _publish(staging, libs)
        return libs

    def ensure_spark_jars(self) -> list[Path]:
        """The verified jars the streaming job puts on Spark's classpath (``spark.jars``)."""
        with _progress() as progress:
            return [self.maven_file(item, progress) for item in self.pins.spark_files]

    def ensure_minio(self) -> Path:
        binary = self.minio_binary()
        marker = binary.parent / COMPLETE
        if marker.exists() and binary.exists():
            return binary
        go = shutil.which("go")
        if go is None:
            raise PrerequisiteError(
                "Go is needed once to build MinIO (`go install`): install Go 1.24+ "
                "(Debian: apt-get install golang-go, or https://go.dev/dl) or point "
                "LAKEHOUSE_S3__* at an existing S3 service with LAKEHOUSE_S3__MANAGED=false"
            )
        binary.parent.mkdir(parents=True, exist_ok=True)
        target = f"{self.pins.minio_module}@{self.pins.minio_version}"
        log.info("building MinIO %s with go install (first time only)", self.pins.minio_version)
        env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        result = subprocess.run([go, "install", target], env=env, capture_output=True, text=True)
        if result.returncode != 0 or not binary.exists():
            raise ArtifactError(f"go install {target} failed:\n{result.stderr[-2000:]}")
        marker.touch()
        return binary


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    )


def _fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _publish(source: Path, target: Path) -> None:
    """Move a fully prepared directory into place, then mark it complete."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)
    (target / COMPLETE).touch()
