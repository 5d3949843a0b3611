"""`make lint`'s monitoring check: the alert rules pass `promtool check rules` and their tests.

The rules are checked as Prometheus gets them: rendered with the default thresholds
(``render_rules``) into a scratch directory beside a copy of their tests.

promtool comes from the pinned Prometheus package, fetched, verified and unpacked into the cache
exactly as the launcher does (:func:`infra.debian_packages.ensure_programs`), so a fresh clone's
`make lint` needs nothing installed by hand. Run by path, from any directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run by path: the project's packages are importable

from core.exceptions import LakehouseError  # noqa: E402
from core.monitoring_settings import AlertThresholds  # noqa: E402
from core.settings import load_settings  # noqa: E402
from infra.artifacts import ArtifactCache  # noqa: E402
from infra.services.monitoring_config import render_rules  # noqa: E402


def main() -> int:
    settings = load_settings(env_file=None)
    try:
        cache = ArtifactCache(settings.cache_dir, settings.artifacts.maven_repository)
        promtool = str(cache.ensure_debian_programs("prometheus") / "promtool")
        rules = render_rules(AlertThresholds())
    except LakehouseError as exc:
        print(f"promtool: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="promtool-") as scratch:
        (Path(scratch) / "rules.yml").write_text(rules, encoding="utf-8")
        shutil.copy(HERE / "rules_test.yml", scratch)
        for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
            if subprocess.run([promtool, *args], cwd=scratch).returncode:
                print(f"promtool {' '.join(args)} failed (rules of {HERE / 'rules.yml'})", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
