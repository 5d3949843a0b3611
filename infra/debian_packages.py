"""Programs taken from pinned Debian packages, unpacked into the cache, never installed.

``apt-get download`` fetches the exact version (no root, no system service enabled), the
``.deb`` is refused unless its SHA-256 is the one pinned in infra/artifacts.toml, and
``dpkg -x`` unpacks it into a staging directory. Only the programs we run are kept, copied out
of ``usr/bin`` (a Debian tree has symbolic links into other packages, which a verified directory
may not hold). Their hashes go into the directory's manifest and are re-checked at every use.

Layout: ``<cache>/debian/<package>-<version>/bin/<program>``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.exceptions import ArtifactError, PrerequisiteError
from infra.integrity import COMPLETE, Manifest, recovery_hint, sha256_of, verify_files


@dataclass(frozen=True)
class DebPin:
    """One Debian package version, the SHA-256 of its .deb, and the programs used from it."""

    package: str
    version: str
    sha256: str
    programs: tuple[str, ...]

    @property
    def source(self) -> str:
        return f"{self.package}={self.version}"


def package_dir(cache_dir: Path, pin: DebPin) -> Path:
    """Where ``pin``'s programs live once unpacked (keyed by version: a new pin is a new dir)."""
    return cache_dir / "debian" / f"{pin.package}-{pin.version}"


def ensure_programs(cache_dir: Path, pin: DebPin) -> Path:
    """The verified ``bin/`` of ``pin``: unpacked on first use, re-hashed on every use."""
    root = package_dir(cache_dir, pin)
    if (root / COMPLETE).exists():
        manifest = Manifest.read(root)
        if manifest is None or manifest.sources != {pin.source: pin.sha256}:
            raise ArtifactError(f"{root} was not unpacked from {pin.source}; {recovery_hint(root)}")
        verify_files(root, manifest.files)
        return root / "bin"
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{pin.package}-", dir=root.parent) as work:
        staging = Path(work) / "tree"
        (staging / "bin").mkdir(parents=True)
        unpacked = _unpack(_download(pin, Path(work)), Path(work) / "deb")
        for program in pin.programs:
            source = unpacked / "usr" / "bin" / program
            if not source.is_file():
                raise ArtifactError(f"{pin.source} has no usr/bin/{program}")
            shutil.copy2(source.resolve(), staging / "bin" / program)
        files = {f"bin/{p}": sha256_of(staging / "bin" / p) for p in pin.programs}
        Manifest({pin.source: pin.sha256}, files).write(staging)
        shutil.rmtree(root, ignore_errors=True)
        staging.replace(root)
    (root / COMPLETE).touch()
    return root / "bin"


def _download(pin: DebPin, into: Path) -> Path:
    apt = shutil.which("apt-get")
    if apt is None:
        raise PrerequisiteError(
            f"apt-get is needed once to fetch {pin.source} (a Debian package); on another system "
            "point the monitoring settings at an existing server with managed=false"
        )
    result = subprocess.run([apt, "download", pin.source], cwd=into, capture_output=True, text=True)
    debs = list(into.glob(f"{pin.package}_*.deb"))
    if result.returncode != 0 or len(debs) != 1:
        raise ArtifactError(f"apt-get download {pin.source} failed: {result.stderr.strip()[-1000:]}")
    actual = sha256_of(debs[0])
    if actual != pin.sha256:
        raise ArtifactError(
            f"{debs[0].name}: SHA-256 {actual} is not the {pin.sha256} pinned in infra/artifacts.toml; "
            "refused (a changed mirror or a new Debian point release: check it, then update the pin)"
        )
    return debs[0]


def _unpack(deb: Path, into: Path) -> Path:
    result = subprocess.run(["dpkg", "-x", str(deb), str(into)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ArtifactError(f"dpkg -x {deb.name} failed: {result.stderr.strip()[-1000:]}")
    return into
