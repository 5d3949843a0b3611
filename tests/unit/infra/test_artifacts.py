"""Artifact downloads: verified against pinned checksums over a real local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.artifacts import ArtifactCache, MavenFile, Pins

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


def test_pins_file_lists_trino_kafka_and_minio() -> None:
    pins = Pins.load()
    assert pins.trino_version == "476"
    assert {f.artifact for f in pins.trino_files} == {"trino-server-core", "trino-iceberg"}
    assert any(f.artifact == "kafka_2.13" for f in pins.kafka_files)
    assert all(len(f.sha256) == 64 for f in pins.trino_files + pins.kafka_files)
    assert pins.minio_version.startswith("v0.0.0-")


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
