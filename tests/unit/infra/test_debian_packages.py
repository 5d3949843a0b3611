"""Programs from a pinned Debian package: verified .deb, only the programs kept, re-hashed on use.

A real .deb is built with dpkg-deb; an `apt-get` on PATH hands it out as `apt-get download` would.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.debian_packages import DebPin, ensure_programs, package_dir
from infra.integrity import sha256_of

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb")


@pytest.fixture
def deb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: demo-tool\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@t.invalid>\nDescription: t\n"
    )
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / "demo").write_text("#!/bin/sh\necho demo\n")
    (tree / "usr" / "bin" / "other").write_text("#!/bin/sh\n")
    (tree / "usr" / "share" / "doc").mkdir(parents=True)
    (tree / "usr" / "share" / "doc" / "link").symlink_to("/etc/hostname")
    built = tmp_path / "demo-tool_1.0-1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(tree), str(built)], check=True, capture_output=True
    )
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    apt = fake_bin / "apt-get"
    apt.write_text(f'#!/bin/sh\n[ "$1" = download ] && [ "$2" = demo-tool=1.0-1 ] && cp {built} .\n')
    apt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{Path(shutil.which('dpkg')).parent}:/usr/bin:/bin")
    return built


def _pin(deb: Path, sha256: str | None = None) -> DebPin:
    return DebPin("demo-tool", "1.0-1", sha256 or sha256_of(deb), ("demo",))


def test_the_pinned_programs_and_nothing_else_are_kept(tmp_path: Path, deb: Path) -> None:
    bin_dir = ensure_programs(tmp_path / "cache", _pin(deb))
    assert sorted(p.name for p in bin_dir.iterdir()) == ["demo"]
    assert ensure_programs(tmp_path / "cache", _pin(deb)) == bin_dir  # a later use: verified, kept


def test_a_deb_with_another_hash_is_refused_and_nothing_is_kept(tmp_path: Path, deb: Path) -> None:
    with pytest.raises(ArtifactError, match=r"is not the 0{64} pinned"):
        ensure_programs(tmp_path / "cache", _pin(deb, "0" * 64))
    assert not package_dir(tmp_path / "cache", _pin(deb)).exists()


def test_a_changed_program_is_refused_at_its_next_use(tmp_path: Path, deb: Path) -> None:
    bin_dir = ensure_programs(tmp_path / "cache", _pin(deb))
    (bin_dir / "demo").write_text("#!/bin/sh\necho changed\n")
    with pytest.raises(ArtifactError, match="modified: bin/demo"):
        ensure_programs(tmp_path / "cache", _pin(deb))


def test_a_program_the_package_lacks_is_named(tmp_path: Path, deb: Path) -> None:
    pin = DebPin("demo-tool", "1.0-1", sha256_of(deb), ("missing",))
    with pytest.raises(ArtifactError, match="no usr/bin/missing"):
        ensure_programs(tmp_path / "cache", pin)
