"""Run dbt in-process with the connection from the shared settings."""

from __future__ import annotations

import os
from collections.abc import Sequence

from core.exceptions import TransformError
from core.settings import PROJECT_ROOT, LakehouseSettings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def run_dbt(settings: LakehouseSettings, args: Sequence[str]) -> None:
    """``dbt <args>`` on the project; raises TransformError naming the failed nodes."""
    from dbt.cli.main import dbtRunner

    # dbt's profile and the pseudonymisation macro read our settings as LAKEHOUSE_* variables.
    os.environ.update(settings.to_env())
    argv = [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    outcome = dbtRunner().invoke(argv)
    if outcome.success:
        return
    failed = []
    if outcome.result is not None and hasattr(outcome.result, "results"):
        failed = [
            r.node.name
            for r in outcome.result.results
            if getattr(r.status, "value", r.status) in {"error", "fail", "runtime error"}
        ]
    reason = f"failed: {', '.join(failed)}" if failed else str(outcome.exception or "see the dbt log above")
    raise TransformError(f"dbt {' '.join(args)} {reason}")
