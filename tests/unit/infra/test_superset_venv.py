"""Superset's locked environment: keyed by its lock, verified file by file against RECORD."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.superset_venv import REQUIREMENTS, SupersetEnvironment, superset_version


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _fake_environment(cache: Path) -> tuple[SupersetEnvironment, Path]:
    """An environment dir holding one installed distribution with a RECORD, as uv leaves it."""
    environment = SupersetEnvironment(cache)
    site = environment.root / "lib" / "python3.11" / "site-packages"
    module = site / "demo" / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_bytes(b"VALUE = 1\n")
    info = site / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        f"demo/__init__.py,{_record_hash(module.read_bytes())},10\n"
        f"demo-1.0.dist-info/METADATA,{_record_hash((info / 'METADATA').read_bytes())},0\n"
        "demo-1.0.dist-info/RECORD,,\n"
    )
    return environment, module


def test_the_lock_pins_superset_and_keys_the_directory(tmp_path: Path) -> None:
    environment = SupersetEnvironment(tmp_path)
    assert superset_version() == environment.version == "6.1.0"
    assert environment.root.name.startswith("6.1.0-")
    assert environment.lock_sha256.startswith(environment.root.name.removeprefix("6.1.0-"))
    assert "--hash=sha256:" in REQUIREMENTS.read_text()


def test_an_unchanged_environment_passes(tmp_path: Path) -> None:
    environment, _ = _fake_environment(tmp_path)
    environment.verify()


@pytest.mark.parametrize(
    "change", [b"VALUE = 2\n", b"VALUE = 1\n\n", b""], ids=["same size", "appended", "emptied"]
)
def test_a_changed_file_is_refused_with_its_path_and_what_to_delete(tmp_path: Path, change: bytes) -> None:
    environment, module = _fake_environment(tmp_path)
    module.write_bytes(change)
    with pytest.raises(ArtifactError, match="differs from its locked wheels") as refused:
        environment.verify()
    assert str(module) in str(refused.value)
    assert f"delete {environment.root}" in str(refused.value)


def test_a_deleted_file_is_refused(tmp_path: Path) -> None:
    environment, module = _fake_environment(tmp_path)
    module.unlink()
    with pytest.raises(ArtifactError, match=str(module)):
        environment.verify()


def test_an_environment_without_site_packages_is_refused(tmp_path: Path) -> None:
    environment = SupersetEnvironment(tmp_path)
    environment.root.mkdir(parents=True)
    with pytest.raises(ArtifactError, match="site-packages missing"):
        environment.verify()
