"""Artifact downloads: verified against pinned checksums over a real local HTTP server."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.artifacts import ArtifactCache, MavenFile, Pins
from infra.integrity import MANIFEST, tree_digest

PAYLOAD = b"not really a jar, but bytes with a known digest\n" * 1000


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Maven-layout directory served over HTTP on loopback."""
    root = tmp_path / "repo"
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def _publish(root: Path, item: MavenFile, content: bytes) -> None:
    path = root / item.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _cache(tmp_path: Path, url: str) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache", url, pins=Pins.load())


def test_coordinates_map_to_the_maven_layout() -> None:
    item = MavenFile.parse("io.trino:trino-server-core:tar.gz:476", "00")
    assert item.path == "io/trino/trino-server-core/476/trino-server-core-476.tar.gz"


def test_a_classifier_names_the_secondary_file_of_a_version() -> None:
    item = MavenFile.parse("io.trino:trino-cli:jar:executable:476", "00")
    assert (item.artifact, item.extension, item.classifier, item.version) == (
        "trino-cli",
        "jar",
        "executable",
        "476",
    )
    assert item.path == "io/trino/trino-cli/476/trino-cli-476-executable.jar"
    assert MavenFile.parse("io.trino:trino-cli:jar:476", "00").filename == "trino-cli-476.jar"


@pytest.mark.parametrize("coordinate", ["io.trino:trino-cli:476", "a:b:c:d:e:f", "io.trino::jar:476"])
def test_a_malformed_coordinate_is_refused_naming_the_forms(coordinate: str) -> None:
    with pytest.raises(ArtifactError, match="group:artifact:extension"):
        MavenFile.parse(coordinate, "00")


def test_the_trino_cli_is_pinned_at_the_servers_version() -> None:
    """The CLI should be the server's version (Trino's docs: the same, or newer)."""
    cli = Pins.load().trino_cli
    assert (cli.group, cli.artifact, cli.classifier) == ("io.trino", "trino-cli", "executable")
    assert cli.version == Pins.load().trino_version
    assert len(cli.sha256) == 64 and int(cli.sha256, 16) >= 0


def test_the_trino_cli_jar_is_verified_and_refetched_when_changed(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    url, root = repository
    item = MavenFile("io.trino", "trino-cli", "jar", "1", hashlib.sha256(PAYLOAD).hexdigest(), "executable")
    _publish(root, item, PAYLOAD)
    cache = ArtifactCache(tmp_path / "cache", url, pins=dataclasses.replace(Pins.load(), trino_cli=item))
    jar = cache.ensure_trino_cli()
    assert jar.name == "trino-cli-1-executable.jar" and jar.read_bytes() == PAYLOAD
    _flip_byte(jar)
    assert cache.ensure_trino_cli().read_bytes() == PAYLOAD  # re-hashed at use: fetched again
    tampered = dataclasses.replace(item, sha256=hashlib.sha256(b"another jar").hexdigest())
    cache = ArtifactCache(tmp_path / "cache", url, pins=dataclasses.replace(Pins.load(), trino_cli=tampered))
    with pytest.raises(ArtifactError, match="does not match the pinned"):
        cache.ensure_trino_cli()


def test_pins_file_lists_trino_kafka_and_minio() -> None:
    pins = Pins.load()
    assert pins.trino_version == "476"
    assert {f.artifact for f in pins.trino_files} == {"trino-server-core", "trino-iceberg"}
    assert any(f.artifact == "kafka_2.13" for f in pins.kafka_files)
    assert all(len(f.sha256) == 64 for f in pins.trino_files + pins.kafka_files)
    assert len(pins.trino_tree_sha256) == 64
    assert pins.minio.version.startswith("v0.0.0-")
    assert pins.minio.h1.startswith("h1:") and pins.minio.h1.endswith("=")
    assert pins.minio.proxy.startswith("https://")


def test_download_is_verified_cached_and_reused(tmp_path: Path, repository: tuple[str, Path]) -> None:
    url, root = repository
    item = MavenFile("org.example", "thing", "jar", "1.0", hashlib.sha256(PAYLOAD).hexdigest())
    _publish(root, item, PAYLOAD)
    cache = _cache(tmp_path, url)
    local = cache.maven_file(item)
    assert local.read_bytes() == PAYLOAD
    assert local.is_relative_to(tmp_path / "cache" / "maven")
    (root / item.path).unlink()  # a second call must not need the network
    assert cache.maven_file(item) == local


def test_checksum_mismatch_is_refused_and_nothing_is_kept(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    url, root = repository
    item = MavenFile("org.example", "tampered", "jar", "1.0", hashlib.sha256(b"expected").hexdigest())
    _publish(root, item, PAYLOAD)
    cache = _cache(tmp_path, url)
    with pytest.raises(ArtifactError, match="does not match the pinned"):
        cache.maven_file(item)
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_missing_artifact_names_the_url(tmp_path: Path, repository: tuple[str, Path]) -> None:
    url, _ = repository
    item = MavenFile("org.example", "absent", "jar", "1.0", "0" * 64)
    with pytest.raises(ArtifactError, match=r"absent-1\.0\.jar not found"):
        _cache(tmp_path, url).maven_file(item)


def _flip_byte(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_cached_jar_is_not_used(tmp_path: Path, repository: tuple[str, Path]) -> None:
    """A cached jar is re-hashed at every use: a changed copy is fetched again, never returned."""
    url, root = repository
    item = MavenFile("org.example", "thing", "jar", "1.0", hashlib.sha256(PAYLOAD).hexdigest())
    _publish(root, item, PAYLOAD)
    cache = _cache(tmp_path, url)
    local = cache.maven_file(item)
    _flip_byte(local)
    assert cache.maven_file(item).read_bytes() == PAYLOAD  # fetched again and verified
    _flip_byte(local)
    (root / item.path).unlink()
    with pytest.raises(ArtifactError, match="not found"):  # no verified copy to be had: refused
        cache.maven_file(item)


# -- A small Trino: a server tarball (with a hard link, as the real one) and an Iceberg plugin zip --
SERVER_FILES = {"lib/trino-main.jar": b"main " * 500, "bin/launcher": b"#!/bin/sh\n", "NOTICE": b"notice"}
ICEBERG_FILES = {"trino-iceberg.jar": b"iceberg " * 500}


def _server_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in SERVER_FILES.items():
            info = tarfile.TarInfo(f"trino-server-core-1/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("trino-server-core-1/plugin/exchange/trino-main.jar")
        link.type, link.linkname = tarfile.LNKTYPE, "trino-server-core-1/lib/trino-main.jar"
        archive.addfile(link)
    return buffer.getvalue()


def _iceberg_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in ICEBERG_FILES.items():
            archive.writestr(f"trino-iceberg-1/{name}", content)
    return buffer.getvalue()


def _expected_tree() -> dict[str, str]:
    files = {**SERVER_FILES, "plugin/exchange/trino-main.jar": SERVER_FILES["lib/trino-main.jar"]}
    files |= {f"plugin/iceberg/{name}": content for name, content in ICEBERG_FILES.items()}
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


@pytest.fixture
def trino_cache(tmp_path: Path, repository: tuple[str, Path]) -> ArtifactCache:
    """An artifact cache whose pins name a small Trino published on the local repository."""
    url, root = repository
    server, iceberg = _server_tarball(), _iceberg_zip()
    items = (
        MavenFile("io.trino", "trino-server-core", "tar.gz", "1", hashlib.sha256(server).hexdigest()),
        MavenFile("io.trino", "trino-iceberg", "zip", "1", hashlib.sha256(iceberg).hexdigest()),
    )
    _publish(root, items[0], server)
    _publish(root, items[1], iceberg)
    pins = dataclasses.replace(
        Pins.load(), trino_version="1", trino_files=items, trino_tree_sha256=tree_digest(_expected_tree())
    )
    return ArtifactCache(tmp_path / "cache", url, pins=pins)


def test_trino_is_unpacked_verified_and_rechecked_at_each_use(trino_cache: ArtifactCache) -> None:
    home = trino_cache.ensure_trino()
    assert (home / "plugin" / "iceberg" / "trino-iceberg.jar").read_bytes() == ICEBERG_FILES[
        "trino-iceberg.jar"
    ]
    assert (home / MANIFEST).exists()
    assert trino_cache.ensure_trino() == home  # the happy path of a later `up`


@pytest.mark.parametrize("victim", ["lib/trino-main.jar", "plugin/iceberg/trino-iceberg.jar", "NOTICE"])
def test_a_flipped_byte_in_the_unpacked_trino_is_refused_on_use(
    trino_cache: ArtifactCache, victim: str
) -> None:
    home = trino_cache.ensure_trino()
    _flip_byte(home / victim, offset=2)
    with pytest.raises(ArtifactError, match=rf"modified: .*{victim}") as error:
        trino_cache.ensure_trino()
    assert f"delete {home}" in str(error.value)


def test_a_jar_dropped_into_the_trino_plugins_is_refused(trino_cache: ArtifactCache) -> None:
    home = trino_cache.ensure_trino()
    (home / "plugin" / "iceberg" / "extra.jar").write_bytes(b"not pinned")
    with pytest.raises(ArtifactError, match=r"unexpected: plugin/iceberg/extra\.jar"):
        trino_cache.ensure_trino()


def test_a_tree_unpacked_before_manifests_is_checked_against_the_pin(trino_cache: ArtifactCache) -> None:
    home = trino_cache.ensure_trino()
    (home / MANIFEST).unlink()
    assert trino_cache.ensure_trino() == home  # matches the pinned tree_sha256: adopted
    assert (home / MANIFEST).exists()
    (home / MANIFEST).unlink()
    _flip_byte(home / "lib" / "trino-main.jar")
    with pytest.raises(ArtifactError, match="does not match the tree_sha256 pinned"):
        trino_cache.ensure_trino()


def test_a_wrong_pinned_tree_hash_is_refused(trino_cache: ArtifactCache) -> None:
    cache = ArtifactCache(
        trino_cache.root,
        trino_cache.maven_repository,
        pins=dataclasses.replace(trino_cache.pins, trino_tree_sha256="0" * 64),
    )
    with pytest.raises(ArtifactError, match=rf"has tree_sha256 = {tree_digest(_expected_tree())}"):
        cache.ensure_trino()
    assert not cache.trino_home().exists()


@pytest.fixture
def kafka_cache(tmp_path: Path, repository: tuple[str, Path]) -> ArtifactCache:
    url, root = repository
    jars = {"broker": b"broker classes " * 300, "clients": b"client classes " * 300}
    items = tuple(
        MavenFile("org.example", name, "jar", "1.0", hashlib.sha256(content).hexdigest())
        for name, content in jars.items()
    )
    for item, content in zip(items, jars.values(), strict=True):
        _publish(root, item, content)
    pins = dataclasses.replace(Pins.load(), kafka_version="1", kafka_files=items)
    return ArtifactCache(tmp_path / "cache", url, pins=pins)


def test_kafka_classpath_is_rechecked_jar_by_jar(kafka_cache: ArtifactCache) -> None:
    libs = kafka_cache.ensure_kafka()
    assert sorted(p.name for p in libs.glob("*.jar")) == ["broker-1.0.jar", "clients-1.0.jar"]
    assert kafka_cache.ensure_kafka() == libs
    _flip_byte(libs / "clients-1.0.jar")
    with pytest.raises(ArtifactError, match=r"modified: clients-1\.0\.jar.*delete"):
        kafka_cache.ensure_kafka()


def test_a_wrong_pinned_jar_hash_is_refused_for_the_classpath(kafka_cache: ArtifactCache) -> None:
    kafka_cache.ensure_kafka()
    broker, clients = kafka_cache.pins.kafka_files
    wrong = dataclasses.replace(
        kafka_cache.pins, kafka_files=(broker, dataclasses.replace(clients, sha256="0" * 64))
    )
    cache = ArtifactCache(kafka_cache.root, kafka_cache.maven_repository, pins=wrong)
    with pytest.raises(ArtifactError, match=r"modified: clients-1\.0\.jar"):
        cache.ensure_kafka()
