"""The code's layers hold: import contracts kept (and enforced), no import cycles, small modules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGES: tuple[str, ...] = tuple(
    tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["root_packages"]
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`make lint`'s import check, run on the tree at ``cwd`` (its packages first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _copy_tree(target: Path) -> Path:
    """The source packages (.py files, package structure kept) and pyproject.toml under ``target``."""
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            copy = target / source.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
    shutil.copyfile(PYPROJECT, target / "pyproject.toml")
    return target


def _append_import(tree: Path, module: str, statement: str) -> None:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    assert path.exists(), path
    with path.open("a") as file:
        file.write(f"\n{statement}\n")


def test_source_packages_are_the_configured_root_packages() -> None:
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert set(PACKAGES) == on_disk


def _analyzed(output: str) -> str:
    found = re.search(r"Analyzed \d+ files, \d+ dependencies", output)
    assert found, output
    return found.group(0)


@pytest.fixture(scope="module")
def real_tree() -> subprocess.CompletedProcess[str]:
    return _lint_imports(ROOT)


def test_import_contracts_are_kept_on_the_real_tree(real_tree: subprocess.CompletedProcess[str]) -> None:
    assert real_tree.returncode == 0, real_tree.stdout + real_tree.stderr
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in real_tree.stdout


def test_an_unchanged_copy_of_the_tree_keeps_the_contracts(
    tmp_path: Path, real_tree: subprocess.CompletedProcess[str]
) -> None:
    # The control for the tests below: the copy is sound, and it is the copy that is analysed.
    result = _lint_imports(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _analyzed(result.stdout) == _analyzed(real_tree.stdout)


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("core.settings", "app.cli"),  # up from the ground layer
        ("ingestion.maintenance", "generator.run"),  # sideways between domain packages
        ("ingestion.streaming.ledger", "ingestion.streaming.job"),  # up inside the streaming job
    ],
)
def test_an_import_against_the_layers_breaks_the_build(tmp_path: Path, importer: str, imported: str) -> None:
    tree = _copy_tree(tmp_path)
    _append_import(tree, importer, f"import {imported}  # against the layers")
    result = _lint_imports(tree)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{importer} -> {imported}" in output
    assert "BROKEN" in output


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Type-checking imports included: a cycle through them is still a cycle of the design.
    return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)


# Scripts run by path, not imported as modules of the packages: Superset's config file (its own
# environment runs it) and make lint's promtool check.
FOREIGN_SCRIPT_DIRS = (ROOT / "infra" / "superset", ROOT / "infra" / "monitoring")


def test_the_graph_sees_every_source_module(graph: grimp.ImportGraph) -> None:
    files = [
        p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if p.parent not in FOREIGN_SCRIPT_DIRS
    ]
    assert len(graph.modules) == len(files)


def _cycles(graph: grimp.ImportGraph) -> list[str]:
    """Every import cycle, as "a -> b -> a" (one entry per cycle, whichever module it is seen from)."""
    cycles: set[tuple[str, ...]] = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                ring = (importer, *back[:-1])
                start = ring.index(min(ring))
                cycles.add(ring[start:] + ring[: start + 1])
    return [" -> ".join(cycle) for cycle in sorted(cycles)]


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_would_see_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic_pkg import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cyclic_pkg.a\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        cyclic = grimp.build_graph("cyclic_pkg", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert _cycles(cyclic) == ["cyclic_pkg.a -> cyclic_pkg.b -> cyclic_pkg.a"]


def test_every_source_module_is_at_most_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assert sizes
    too_long = {path: lines for path, lines in sorted(sizes.items()) if lines > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
