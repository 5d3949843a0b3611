"""`make lint`'s monitoring check: the alert rules pass `promtool check rules` and their tests.

promtool comes from the pinned Prometheus package, fetched, verified and unpacked into the cache
exactly as the launcher does (:func:`infra.debian_packages.ensure_programs`), so a fresh clone's
`make lint` needs nothing installed by hand. Run by path, from any directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run by path: the project's packages are importable

from core.exceptions import LakehouseError  # noqa: E402
from core.settings import load_settings  # noqa: E402
from infra.artifacts import ArtifactCache  # noqa: E402


def main() -> int:
    settings = load_settings(env_file=None)
    try:
        cache = ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository)
        promtool = str(cache.ensure_debian_programs("prometheus") / "promtool")
    except LakehouseError as exc:
        print(f"promtool: {exc}", file=sys.stderr)
        return 1
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        if subprocess.run([promtool, *args], cwd=HERE).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
