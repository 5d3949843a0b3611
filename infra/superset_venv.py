"""Superset's own locked Python environment, beside the project's.

Superset 6.1 pins SQLAlchemy < 2, pandas < 2.2 and pyarrow < 19, which the project's lock cannot
share: it gets a virtual environment of its own in the cache, installed by the project's pinned
uv from ``infra/superset/requirements.txt`` (every package hash-pinned; ``--require-hashes``
refuses anything else). The environment is keyed by the lock's SHA-256, so a changed lock
installs a new one and never mutates the old in place.

Verified at every use, as the other cached artifacts are (SECURITY.md, "Supply chain"): each
installed file against the SHA-256 its wheel's RECORD lists (about 15,800 files, 630 MB: ~1.5 s
on two cores, hashed in threads). Bytecode that Python writes later (``__pycache__``) is in no
RECORD and so not covered.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.exceptions import ENV_PREFIX, ArtifactError, PrerequisiteError
from infra.integrity import COMPLETE, sha256_of

log = logging.getLogger(__name__)

LOCK_DIR = Path(__file__).with_name("superset")
REQUIREMENTS = LOCK_DIR / "requirements.txt"
UV_REQUIREMENTS = Path(__file__).with_name("uv-requirements.txt")
_WORKERS = 4  # hashlib releases the GIL: reading and hashing overlap across two cores
_MAX_LISTED = 5


def superset_version(requirements: Path = REQUIREMENTS) -> str:
    """The apache-superset version the lock pins."""
    found = re.search(r"^apache-superset(?:\[[^\]]*\])?==([^\s\\]+)", requirements.read_text(), re.MULTILINE)
    if found is None:
        raise ArtifactError(f"{requirements}: no apache-superset==<version> pin")
    return found.group(1)


def uv_binary(cache_dir: Path) -> Path:
    """The project's pinned uv, which `make install` (infra/bootstrap.sh) puts in the cache."""
    found = re.search(r"^uv==(\S+)", UV_REQUIREMENTS.read_text(), re.MULTILINE)
    if found is None:
        raise ArtifactError(f"{UV_REQUIREMENTS}: no uv==<version> pin")
    uv = cache_dir / "tools" / f"uv-{found.group(1)}" / "bin" / "uv"
    if not uv.is_file():
        raise PrerequisiteError(f"{uv} not found: run `make install` first (it installs the pinned uv)")
    return uv


class SupersetEnvironment:
    """The cached virtual environment Superset runs from."""

    def __init__(self, cache_dir: Path, requirements: Path = REQUIREMENTS) -> None:
        self.cache_dir = cache_dir
        self.requirements = requirements
        self.version = superset_version(requirements)
        self.lock_sha256 = sha256_of(requirements)
        self.root = cache_dir / "superset" / f"{self.version}-{self.lock_sha256[:12]}"

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        """An executable of the environment (superset, gunicorn)."""
        return self.root / "bin" / name

    def ensure(self) -> Path:
        """Install the environment when missing (or half-installed), then verify every file."""
        if not (self.root / COMPLETE).exists():
            self._install()
        self.verify()
        return self.root

    def _install(self) -> None:
        log.info("installing Superset %s into %s (first time only)", self.version, self.root)
        uv = uv_binary(self.cache_dir)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        # The user's environment (proxies, CA bundles), no lakehouse setting, uv's cache beside ours.
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env |= {"UV_CACHE_DIR": str(self.cache_dir / "uv"), "UV_PYTHON_DOWNLOADS": "never"}
        steps = [
            [str(uv), "venv", "--quiet", "--python", sys.executable, str(self.root)],
            [
                str(uv), "pip", "sync", "--quiet", "--require-hashes",
                "--python", str(self.python), str(self.requirements),
            ],
        ]  # fmt: skip
        for argv in steps:
            result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                shutil.rmtree(self.root, ignore_errors=True)
                raise ArtifactError(
                    f"installing Superset's environment failed ({' '.join(argv[:3])}): "
                    f"{result.stderr.strip()[-2000:]}"
                )
        (self.root / COMPLETE).write_text(self.lock_sha256 + "\n")

    def verify(self) -> None:
        """Every installed file against its wheel's RECORD hash; raise ArtifactError naming the
        files that differ and the directory to delete."""
        sites = list((self.root / "lib").glob("python3*/site-packages"))
        if len(sites) != 1:
            raise self._refused(["site-packages missing"])
        files = [
            (entry.locate(), entry.hash.value)
            for dist in importlib.metadata.distributions(path=[str(sites[0])])
            for entry in dist.files or []
            if entry.hash is not None and entry.hash.mode == "sha256"
        ]
        if not files:
            raise self._refused(["no RECORD"])
        with ThreadPoolExecutor(_WORKERS) as pool:
            results = pool.map(_matches, files)
        bad = [str(path) for (path, _), ok in zip(files, results, strict=True) if not ok]
        if bad:
            raise self._refused(bad)

    def _refused(self, what: list[str]) -> ArtifactError:
        listed = ", ".join(what[:_MAX_LISTED]) + (
            f" and {len(what) - _MAX_LISTED} more" if len(what) > 5 else ""
        )
        return ArtifactError(
            f"Superset's cached environment differs from its locked wheels ({listed}): delete "
            f"{self.root} (rm -rf) and run `make up` again to reinstall it"
        )


def _matches(item: tuple[Path, str]) -> bool:
    path, expected = item
    try:
        with Path(path).open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").digest()
    except OSError:
        return False
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == expected
