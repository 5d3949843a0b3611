"""`make lint`'s monitoring check: fetch the pinned Prometheus package, verify it, run promtool.

Standalone (standard library only) so a fresh clone's `make lint` needs nothing installed: the
.deb comes from `apt-get download` into ``$LAKEHOUSE_CACHE_DIR/monitoring`` (default
``~/.cache/cdr-lakehouse/monitoring``), keyed by its version, is refused unless its SHA-256 is
the one pinned in infra/artifacts.toml, and is unpacked with `dpkg -x` (no system service).
Then ``promtool check rules`` and ``promtool test rules`` run on infra/monitoring.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINS = HERE.parent / "artifacts.toml"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def promtool() -> Path:
    pins = tomllib.loads(PINS.read_text(encoding="utf-8"))["monitoring"]["debs"]
    pin = next(p for p in pins if p["package"] == "prometheus")
    home = os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "cdr-lakehouse")
    cache = Path(home) / "monitoring"
    root = cache / f"prometheus-{pin['version']}"
    tool = root / "usr" / "bin" / "promtool"
    if tool.is_file() and (root / ".deb-sha256").read_text().strip() == pin["sha256"]:
        return tool
    cache.mkdir(parents=True, exist_ok=True)
    debs = list(cache.glob(f"prometheus_{pin['version'].replace(':', '%3a')}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", f"prometheus={pin['version']}"], cwd=cache, check=True)
        debs = list(cache.glob(f"prometheus_{pin['version'].replace(':', '%3a')}_*.deb"))
    deb = debs[0]
    actual = _sha256(deb)
    if actual != pin["sha256"]:
        deb.unlink()
        sys.exit(f"{deb.name}: SHA-256 {actual} is not the {pin['sha256']} pinned in {PINS}; refused")
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    (root / ".deb-sha256").write_text(pin["sha256"] + "\n")
    return tool


def main() -> int:
    tool = str(promtool())
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        if subprocess.run([tool, *args], cwd=HERE).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
