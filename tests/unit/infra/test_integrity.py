"""Use-time content checks of cached artifacts, on real files (hashes computed, never faked)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.integrity import COMPLETE, MANIFEST, Manifest, hash_tree, tree_digest, verify_files


def _flip_byte(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "server"
    (root / "lib").mkdir(parents=True)
    (root / "plugin" / "iceberg").mkdir(parents=True)
    (root / "lib" / "core.jar").write_bytes(b"core classes " * 1000)
    (root / "plugin" / "iceberg" / "iceberg.jar").write_bytes(b"iceberg classes " * 1000)
    # Shared between two places as a hard link, as the Trino tarball does.
    os.link(root / "lib" / "core.jar", root / "plugin" / "iceberg" / "core.jar")
    (root / COMPLETE).touch()
    return root


def test_every_file_is_hashed_by_relative_path_and_hard_links_agree(tree: Path) -> None:
    files = hash_tree(tree)
    assert set(files) == {"lib/core.jar", "plugin/iceberg/core.jar", "plugin/iceberg/iceberg.jar"}
    assert files["lib/core.jar"] == hashlib.sha256(b"core classes " * 1000).hexdigest()
    assert files["lib/core.jar"] == files["plugin/iceberg/core.jar"]


def test_tree_digest_is_that_of_sha256sum_lines_sorted_by_path() -> None:
    files = {"b": "2" * 64, "a": "1" * 64}
    lines = f"{'1' * 64}  a\n{'2' * 64}  b\n"
    assert tree_digest(files) == hashlib.sha256(lines.encode()).hexdigest()


def test_an_untouched_tree_passes(tree: Path) -> None:
    verify_files(tree, hash_tree(tree))


def test_a_flipped_byte_is_refused_naming_the_file_and_the_fix(tree: Path) -> None:
    expected = hash_tree(tree)
    _flip_byte(tree / "plugin" / "iceberg" / "iceberg.jar")
    with pytest.raises(ArtifactError) as error:
        verify_files(tree, expected)
    message = str(error.value)
    assert "modified: plugin/iceberg/iceberg.jar" in message
    assert f"delete {tree}" in message and "lakehouse up" in message


def test_a_truncated_file_is_refused(tree: Path) -> None:
    expected = hash_tree(tree)
    with (tree / "lib" / "core.jar").open("r+b") as handle:
        handle.truncate(100)
    # The hard-linked copy is the same file: both paths are reported.
    with pytest.raises(ArtifactError, match=r"modified: lib/core\.jar, plugin/iceberg/core\.jar"):
        verify_files(tree, expected)


def test_an_added_jar_and_a_removed_one_are_refused(tree: Path) -> None:
    expected = hash_tree(tree)
    (tree / "plugin" / "evil").mkdir()
    (tree / "plugin" / "evil" / "backdoor.jar").write_bytes(b"x")
    (tree / "plugin" / "iceberg" / "iceberg.jar").unlink()
    with pytest.raises(ArtifactError) as error:
        verify_files(tree, expected)
    assert "missing: plugin/iceberg/iceberg.jar" in str(error.value)
    assert "unexpected: plugin/evil/backdoor.jar" in str(error.value)


def test_a_symbolic_link_is_refused(tree: Path) -> None:
    (tree / "lib" / "link.jar").symlink_to(tree / "lib" / "core.jar")
    with pytest.raises(ArtifactError, match="symbolic link"):
        hash_tree(tree)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="is missing"):
        verify_files(tmp_path / "absent", {})


def test_the_manifest_round_trips_and_is_not_part_of_the_content(tree: Path) -> None:
    manifest = Manifest({"server.tar.gz": "ab" * 32}, hash_tree(tree))
    manifest.write(tree)
    assert Manifest.read(tree) == manifest
    assert MANIFEST not in hash_tree(tree)
    assert [p.name for p in tree.parent.iterdir()] == [tree.name]  # no stray partial file


def test_an_unreadable_manifest_says_how_to_recover(tree: Path) -> None:
    (tree / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match=f"delete {tree}"):
        Manifest.read(tree)
