"""The MinIO build: checksum-database environment, build-info check, binary re-checked on use.

A stand-in ``go`` on PATH (a small script) plays the toolchain: ``go install`` writes a binary
and records the environment it was given; ``go version -m`` prints the build information a real
``go install`` of the pinned module embeds. Hashes are real, of real files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.exceptions import ArtifactError
from infra.go_build import (
    GoModulePin,
    check_build_info,
    ensure_go_binary,
    go_build_env,
    parse_build_info,
)
from infra.integrity import MANIFEST

PIN = GoModulePin(
    module="github.com/minio/minio",
    version="v0.0.0-20260212201848-7aac2a2c5b7c",
    h1="h1:/qdoYujxF5MBLDMVLeiYJ/7fBa1HikX39Dvzb9Ji8pA=",
    proxy="https://proxy.golang.org",
)

FAKE_GO = """\
#!{python}
import json, os, pathlib, sys
state = pathlib.Path({state!r})
if sys.argv[1] == "install":
    gobin = pathlib.Path(os.environ["GOBIN"])
    (gobin / "minio").write_bytes(b"\\x7fELF a minio binary " * 1000)
    (state / "env.json").write_text(json.dumps(dict(os.environ)))
elif sys.argv[1:3] == ["version", "-m"]:
    sys.stdout.write((state / "buildinfo.txt").read_text())
"""


def _build_info(module: str = PIN.module, version: str = PIN.version, h1: str = PIN.h1) -> str:
    return (
        f"minio: go1.26.8\n\tpath\t{module}\n\tmod\t{module}\t{version}\t{h1}\n"
        "\tdep\tgithub.com/klauspost/compress\tv1.18.0\th1:abc=\n\tbuild\tCGO_ENABLED=0\n"
    )


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "go-state"
    tools = tmp_path / "tools"
    state.mkdir()
    tools.mkdir()
    go = tools / "go"
    go.write_text(FAKE_GO.format(python=sys.executable, state=str(state)))
    go.chmod(0o755)
    (state / "buildinfo.txt").write_text(_build_info())
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    return state


def _binary(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "minio" / PIN.version / "bin" / "minio"


def test_the_build_runs_with_the_checksum_database_on_and_nothing_exempted(
    tmp_path: Path, fake_go: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "GONOSUMDB": "github.com",
        "GONOSUMCHECK": "1",
        "GOPRIVATE": "*",
        "GOINSECURE": "*",
        "GOFLAGS": "-insecure",
        "GOSUMDB": "off",
    }.items():
        monkeypatch.setenv(name, value)
    binary = ensure_go_binary(_binary(tmp_path), PIN)
    env = json.loads((fake_go / "env.json").read_text())
    assert env["GOSUMDB"] == "sum.golang.org"
    assert env["GOPROXY"] == "https://proxy.golang.org"
    assert env["GOFLAGS"] == "-mod=readonly"
    assert env["GOENV"] == "off"  # the `go env -w` file cannot exempt modules either
    assert env["GOBIN"] == str(binary.parent)
    assert not {"GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOINSECURE"} & env.keys()


def test_go_build_env_keeps_the_rest_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert go_build_env(PIN, Path("/x"))["HTTPS_PROXY"] == "http://proxy.internal:3128"


def test_build_info_is_parsed() -> None:
    path, main, replaced = parse_build_info(_build_info())
    assert path == PIN.module
    assert main == (PIN.module, PIN.version, PIN.h1)
    assert not replaced
    assert parse_build_info(_build_info() + "\t=>\t../local-fork\t(devel)\n")[2]


def test_a_built_binary_is_recorded_and_rechecked_at_each_use(tmp_path: Path, fake_go: Path) -> None:
    binary = ensure_go_binary(_binary(tmp_path), PIN)
    assert (binary.parent / MANIFEST).exists()
    (fake_go / "env.json").unlink()
    assert ensure_go_binary(binary, PIN) == binary  # happy path of a later `up`: no rebuild
    assert not (fake_go / "env.json").exists()


def test_a_flipped_byte_in_the_built_binary_is_refused_on_use(tmp_path: Path, fake_go: Path) -> None:
    binary = ensure_go_binary(_binary(tmp_path), PIN)
    data = bytearray(binary.read_bytes())
    data[100] ^= 0x01
    binary.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=rf"modified: minio.*delete {binary.parent}"):
        ensure_go_binary(binary, PIN)


@pytest.mark.parametrize(
    "build_info",
    [
        _build_info(h1="h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        _build_info(version="v0.0.0-20250101000000-000000000000"),
        _build_info(module="github.com/evil/minio"),
        _build_info() + "\t=>\t../local-fork\t(devel)\n",
    ],
    ids=["wrong-h1", "wrong-version", "wrong-module", "replaced"],
)
def test_a_binary_whose_build_info_differs_from_the_pin_is_refused(
    tmp_path: Path, fake_go: Path, build_info: str
) -> None:
    (fake_go / "buildinfo.txt").write_text(build_info)
    with pytest.raises(ArtifactError, match="not the pinned"):
        ensure_go_binary(_binary(tmp_path), PIN)
    # Not marked complete: the next `up` builds again rather than trusting it.
    assert not (_binary(tmp_path).parent / ".complete").exists()


def test_a_wrong_pinned_hash_refuses_a_binary_built_from_another(tmp_path: Path, fake_go: Path) -> None:
    binary = ensure_go_binary(_binary(tmp_path), PIN)
    other = GoModulePin(PIN.module, PIN.version, "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=", PIN.proxy)
    with pytest.raises(ArtifactError, match=f"not the pinned.*{other.h1}"):
        ensure_go_binary(binary, other)


def test_a_binary_built_before_manifests_is_checked_once_then_recorded(tmp_path: Path, fake_go: Path) -> None:
    binary = ensure_go_binary(_binary(tmp_path), PIN)
    (binary.parent / MANIFEST).unlink()
    assert ensure_go_binary(binary, PIN) == binary
    assert json.loads((binary.parent / MANIFEST).read_text())["sources"] == {PIN.target: PIN.h1}


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")
def test_the_real_go_toolchain_build_info_of_a_local_build_is_refused(tmp_path: Path) -> None:
    """Against the real `go version -m`: a binary built from local source has no pinned hash."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "go.mod").write_text("module github.com/minio/minio\n\ngo 1.21\n")
    (source / "main.go").write_text("package main\n\nfunc main() {}\n")
    binary = tmp_path / "minio"
    env = {**os.environ, "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=source, env=env, check=True)
    with pytest.raises(ArtifactError, match=r"github\.com/minio/minio \(devel\).*not the pinned"):
        check_build_info(shutil.which("go") or "go", binary, PIN)
