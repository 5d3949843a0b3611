"""The CLI ends expected failures with a message and an exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    lakehouse = Path(sys.executable).with_name("lakehouse")
    return subprocess.run(
        [str(lakehouse), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )


def test_bad_setting_exits_2_naming_the_field_without_traceback() -> None:
    result = run_cli("status", LAKEHOUSE_KAFKA__PARTITIONS="0")
    assert result.returncode == 2
    assert "kafka.partitions" in result.stderr
    assert "LAKEHOUSE_KAFKA__PARTITIONS" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_the_stack_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("up", "down", "status", "logs", "clean"):
        assert command in result.stdout
