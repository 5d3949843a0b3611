"""Pinned server artifacts: downloaded once into a cache outside the repo and verified.

Layout of the cache (``LAKEHOUSE_CACHE_DIR``, default ``~/.cache/cdr-lakehouse``)::

    maven/<group path>/<artifact>/<version>/<file>   verified downloads, Maven layout (the Trino
                                                     CLI's jar runs from here)
    trino/<version>/                                 server unpacked, Iceberg plugin inside
    kafka/<version>/libs/                            the broker's classpath
    minio/<version>/bin/minio                        built with `go install`
    versitygw/<version>/bin/versitygw                built with `go install` (LAKEHOUSE_S3__SERVER)
    alertmanager/<version>/bin/alertmanager          built with `go install`
    debian/<package>-<version>/bin/                  programs of a pinned Debian package

A directory is only used once its ``.complete`` marker exists, so an interrupted install is
redone rather than trusted. Every use re-checks content (:mod:`infra.integrity`): a cached Maven
file is re-hashed against its pin (and fetched again when it differs), the Trino tree against the
``tree_sha256`` pinned for it, the Kafka classpath jar by jar against the pins, the MinIO binary
against the hash recorded when it was built and checked (:mod:`infra.go_build`). A tree or
binary that fails is refused with the path to delete.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from core.exceptions import ArtifactError
from infra.debian_packages import DebPin, ensure_programs
from infra.go_build import GoModulePin, ensure_go_binary
from infra.integrity import COMPLETE, Manifest, compare, hash_tree, sha256_of, tree_digest, verify_files

log = logging.getLogger(__name__)

PINS_FILE = Path(__file__).with_name("artifacts.toml")
__all__ = ["COMPLETE", "ArtifactCache", "MavenFile", "Pins", "sha256_of"]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class MavenFile:
    """One file on a Maven repository, with the SHA-256 it must have.

    ``classifier`` names a secondary file of the same version (``executable`` for the Trino CLI's
    self-running jar); empty for the artifact's main file.
    """

    group: str
    artifact: str
    extension: str
    version: str
    sha256: str
    classifier: str = ""

    @classmethod
    def parse(cls, coordinate: str, sha256: str) -> MavenFile:
        """``group:artifact:extension:version`` or, with a classifier,
        ``group:artifact:extension:classifier:version`` (Maven's own order for coordinates)."""
        parts = coordinate.split(":")
        if len(parts) not in (4, 5) or not all(parts):
            raise ArtifactError(
                f"{coordinate!r} (infra/artifacts.toml): expected group:artifact:extension:version "
                "or group:artifact:extension:classifier:version"
            )
        group, artifact, extension, *classifier, version = parts
        return cls(group, artifact, extension, version, sha256, "".join(classifier))

    @property
    def filename(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.{self.extension}"

    @property
    def path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"


@dataclass(frozen=True)
class Pins:
    """The versions in ``infra/artifacts.toml``."""

    trino_version: str
    trino_files: tuple[MavenFile, ...]
    trino_tree_sha256: str
    kafka_version: str
    kafka_files: tuple[MavenFile, ...]
    minio: GoModulePin
    versitygw: GoModulePin
    alertmanager: GoModulePin
    debs: tuple[DebPin, ...]
    kafka_jmx_agent: MavenFile
    spark_version: str
    spark_files: tuple[MavenFile, ...]
    trino_cli: MavenFile

    @classmethod
    def load(cls, path: Path = PINS_FILE) -> Pins:
        data = tomllib.loads(path.read_text(encoding="utf-8"))

        def files(section: str) -> tuple[MavenFile, ...]:
            return tuple(MavenFile.parse(f["coordinate"], f["sha256"]) for f in data[section]["files"])

        return cls(
            trino_version=data["trino"]["version"],
            trino_files=files("trino"),
            trino_tree_sha256=data["trino"]["tree_sha256"],
            kafka_version=data["kafka"]["version"],
            kafka_files=files("kafka"),
            minio=GoModulePin(**data["minio"]),
            versitygw=GoModulePin(**data["versitygw"], section="versitygw"),
            alertmanager=GoModulePin(**data["alertmanager"], section="alertmanager"),
            debs=tuple(
                DebPin(d["package"], d["version"], d["sha256"], tuple(d["programs"]))
                for d in data["monitoring"]["debs"]
            ),
            kafka_jmx_agent=MavenFile.parse(
                data["monitoring"]["kafka_jmx_agent"]["coordinate"],
                data["monitoring"]["kafka_jmx_agent"]["sha256"],
            ),
            spark_version=data["spark"]["version"],
            spark_files=files("spark"),
            trino_cli=MavenFile.parse(data["trino"]["cli"]["coordinate"], data["trino"]["cli"]["sha256"]),
        )


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
        if target.exists():
            # Re-hashed at every use, not only after the download.
            if sha256_of(target) == item.sha256:
                return target
            log.warning("cached %s does not match its pinned SHA-256; fetching it again", target)
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
        return self.root / "minio" / self.pins.minio.version / "bin" / "minio"

    def ensure_trino(self) -> Path:
        """The verified Trino server (Iceberg plugin inside): unpacked once, re-hashed each use."""
        home = self.trino_home()
        if (home / COMPLETE).exists():
            self._verify_trino(home)
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
        files = hash_tree(top)
        if tree_digest(files) != self.pins.trino_tree_sha256:
            shutil.rmtree(staging, ignore_errors=True)
            raise ArtifactError(
                f"the Trino tree unpacked from the verified archives has tree_sha256 = "
                f"{tree_digest(files)}, but infra/artifacts.toml pins {self.pins.trino_tree_sha256} "
                "(after changing the Trino version, pin the new value)"
            )
        Manifest(self._trino_sources(), files).write(top)
        _publish(top, home)
        shutil.rmtree(staging, ignore_errors=True)
        return home

    def _trino_sources(self) -> dict[str, str]:
        return {item.filename: item.sha256 for item in self.pins.trino_files}

    def _verify_trino(self, home: Path) -> None:
        """Refuse an unpacked tree that is not the pinned one, naming the files that differ."""
        files = hash_tree(home)
        manifest = Manifest.read(home)
        if tree_digest(files) == self.pins.trino_tree_sha256:
            if manifest is None or manifest.sources != self._trino_sources():
                # Unpacked before manifests existed: record its (verified) content once.
                Manifest(self._trino_sources(), files).write(home)
            return
        if manifest is not None:
            compare(home, manifest.files, files)  # names the files that differ
        raise ArtifactError(
            f"cached artifact {home} does not match the tree_sha256 pinned in infra/artifacts.toml; "
            f"delete {home} (rm -rf) and run `lakehouse up` again: it is unpacked anew from the "
            "verified downloads"
        )

    def ensure_kafka(self) -> Path:
        """The broker's classpath: exactly the pinned jars, each re-hashed at every use."""
        libs = self.kafka_libs()
        if (libs / COMPLETE).exists():
            verify_files(libs, {item.filename: item.sha256 for item in self.pins.kafka_files})
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

    def ensure_kafka_jmx_agent(self) -> Path:
        """The verified Prometheus JMX agent jar the broker loads (``-javaagent``)."""
        with _progress() as progress:
            return self.maven_file(self.pins.kafka_jmx_agent, progress)

    def ensure_trino_cli(self) -> Path:
        """The verified Trino CLI jar (`lakehouse sql`), re-hashed at every use like any Maven file."""
        # The shell's standard output is query results (CSV in scripts): a download's progress
        # goes to stderr, and only to a terminal (elsewhere even an empty one prints a newline).
        with _progress(Console(stderr=True)) as progress:
            return self.maven_file(self.pins.trino_cli, progress)

    def ensure_minio(self) -> Path:
        """The MinIO binary: built once (checksum database on, build info checked), re-hashed each use."""
        return ensure_go_binary(self.minio_binary(), self.pins.minio)

    def versitygw_binary(self) -> Path:
        return self.root / "versitygw" / self.pins.versitygw.version / "bin" / "versitygw"

    def ensure_versitygw(self) -> Path:
        """The versitygw binary, built and checked like MinIO's."""
        return ensure_go_binary(self.versitygw_binary(), self.pins.versitygw)

    def alertmanager_binary(self) -> Path:
        return self.root / "alertmanager" / self.pins.alertmanager.version / "bin" / "alertmanager"

    def ensure_alertmanager(self) -> Path:
        """The Alertmanager binary, built and checked like MinIO's."""
        return ensure_go_binary(self.alertmanager_binary(), self.pins.alertmanager)

    def ensure_debian_programs(self, package: str) -> Path:
        """The verified ``bin/`` of a pinned Debian package (Prometheus, the PostgreSQL exporter)."""
        pin = next((d for d in self.pins.debs if d.package == package), None)
        if pin is None:
            raise ArtifactError(f"no Debian package {package!r} in infra/artifacts.toml [monitoring]")
        return ensure_programs(self.root, pin)


def _progress(console: Console | None = None) -> Progress:
    """A transient download progress; on ``console`` (shown only if it is a terminal), or stdout."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        disable=console is not None and not console.is_terminal,
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
