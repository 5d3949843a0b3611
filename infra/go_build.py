"""Servers built from source with ``go install`` (MinIO, Alertmanager), checked against the Go
checksum database.

The Go toolchain verifies every module it downloads against sum.golang.org, unless its
environment says otherwise (GOSUMDB=off, GONOSUMDB, GOPRIVATE, GOINSECURE, GOFLAGS=-insecure, or
the same in ``go env -w``'s file). The build therefore runs with an environment of our own, and
the binary is accepted only if its embedded build information names the pinned module, version
and ``h1:`` hash (the hash sum.golang.org publishes for that version). The binary's SHA-256 is
recorded at build and re-checked at every use.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.exceptions import ArtifactError, PrerequisiteError
from infra.integrity import COMPLETE, Manifest, recovery_hint, sha256_of, verify_files

log = logging.getLogger(__name__)

# Variables that would weaken or bypass the checksum database: never inherited by the build.
_UNSAFE_GO_ENV = ("GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOINSECURE", "GONOPROXY", "GOFLAGS")


@dataclass(frozen=True)
class GoModulePin:
    """A Go module version, the ``h1:`` hash the checksum database has for it, and where to get it."""

    module: str
    version: str
    h1: str
    proxy: str
    sumdb: str = "sum.golang.org"
    # The main package when it is not the module's root (Alertmanager's is cmd/alertmanager).
    package: str = ""
    # The section of infra/artifacts.toml that pins it, named in errors.
    section: str = "minio"

    @property
    def main_package(self) -> str:
        return self.package or self.module

    @property
    def target(self) -> str:
        return f"{self.main_package}@{self.version}"


def go_build_env(pin: GoModulePin, gobin: Path) -> dict[str, str]:
    """The environment of ``go install``: checksum database on, module graph read-only."""
    env = {key: value for key, value in os.environ.items() if key not in _UNSAFE_GO_ENV}
    env.update(
        # Ignore the user's `go env -w` file: it can hold GONOSUMDB or GOSUMDB=off, and an empty
        # variable in the environment does not override it.
        GOENV="off",
        GOSUMDB=pin.sumdb,
        GOPROXY=pin.proxy,
        GOFLAGS="-mod=readonly",
        # Build with the installed Go; never fetch another toolchain mid-build.
        GOTOOLCHAIN="local",
        GOBIN=str(gobin),
        CGO_ENABLED="0",
    )
    return env


def parse_build_info(output: str) -> tuple[str, tuple[str, ...], bool]:
    """From ``go version -m``: the main package path, the main module's ``mod`` fields, and
    whether any module was replaced (``=>``) at build time."""
    path, main, replaced = "", (), False
    for line in output.splitlines():
        fields = tuple(line.strip().split("\t"))
        if fields[0] == "path" and len(fields) > 1:
            path = fields[1]
        elif fields[0] == "mod":
            main = fields[1:]
        elif fields[0] == "=>":
            replaced = True
    return path, main, replaced


def check_build_info(go: str, binary: Path, pin: GoModulePin) -> None:
    """Refuse ``binary`` unless Go's build information shows the pinned module, version and hash."""
    result = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ArtifactError(f"`go version -m {binary}` failed: {result.stderr.strip()}")
    path, main, replaced = parse_build_info(result.stdout)
    wanted = (pin.module, pin.version, pin.h1)
    if path != pin.main_package or main != wanted or replaced:
        raise ArtifactError(
            f"{binary}: built from {path or '?'} {' '.join(main) or '(no module information)'}"
            f"{' with replaced modules' if replaced else ''}, not the pinned {' '.join(wanted)} "
            f"(infra/artifacts.toml [{pin.section}]); the binary is refused: {recovery_hint(binary.parent)}"
        )


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise PrerequisiteError(
            "Go is needed once to build MinIO and Alertmanager (`go install`): install Go 1.24+ "
            "(Debian: apt-get install golang-go, or https://go.dev/dl), or point the settings at "
            "existing servers (LAKEHOUSE_S3__MANAGED=false, "
            "LAKEHOUSE_MONITORING__ALERTMANAGER__MANAGED=false)"
        )
    return go


def _sources(pin: GoModulePin) -> dict[str, str]:
    return {pin.target: pin.h1}


def ensure_go_binary(binary: Path, pin: GoModulePin) -> Path:
    """Return ``binary`` once verified: rebuilt when absent, refused when it fails a check."""
    bin_dir = binary.parent
    if (bin_dir / COMPLETE).exists() and binary.exists():
        manifest = Manifest.read(bin_dir)
        if manifest is None:
            # Built before build checks existed: check its build information once, then record it.
            check_build_info(_go(), binary, pin)
            manifest = Manifest(_sources(pin), {binary.name: sha256_of(binary)})
            manifest.write(bin_dir)
        if manifest.sources != _sources(pin):
            raise ArtifactError(
                f"{bin_dir} was built from {manifest.sources}, not the pinned {_sources(pin)}; "
                f"{recovery_hint(bin_dir)}"
            )
        verify_files(bin_dir, manifest.files)
        return binary
    go = _go()
    shutil.rmtree(bin_dir, ignore_errors=True)
    bin_dir.mkdir(parents=True)
    log.info("building %s %s with go install (first time only)", pin.main_package, pin.version)
    env = go_build_env(pin, bin_dir)
    result = subprocess.run([go, "install", pin.target], env=env, capture_output=True, text=True)
    if result.returncode != 0 or not binary.exists():
        raise ArtifactError(f"go install {pin.target} failed:\n{result.stderr[-2000:]}")
    check_build_info(go, binary, pin)
    Manifest(_sources(pin), {binary.name: sha256_of(binary)}).write(bin_dir)
    (bin_dir / COMPLETE).touch()
    return binary
