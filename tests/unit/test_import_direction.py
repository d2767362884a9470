"""The arrows of the house (docs/architecture.md): every import of ours points down a layer.

schemas <- databus (the kernel) <- producers, streams, consumers (the roles) <- cli.
A role may import the kernel, the schemas and itself, never another role; the kernel imports no
role; only `cli` (the command line and the demo) sees everything. Every import counts, also one
inside a function or under `if TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("schemas", "databus", "producers", "streams", "consumers", "cli")
ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset({"schemas"}),
    "databus": frozenset({"databus", "schemas"}),
    "producers": frozenset({"producers", "databus", "schemas"}),
    "streams": frozenset({"streams", "databus", "schemas"}),
    "consumers": frozenset({"consumers", "databus", "schemas"}),
    "cli": frozenset(OURS),
}


def _modules(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def imported_packages(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, top-level package of ours) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = path.relative_to(root).parts[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # a relative import stays inside the file's own top-level package
            names = [own] if node.level else [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OURS:
                found.append((node.lineno, top))
    return found


def violations(package: str, root: Path = ROOT) -> list[str]:
    """Every import of `package`'s modules (under `root`) that the rule of the arrows forbids."""
    allowed = ALLOWED[package]
    bad = []
    for path in _modules(package, root):
        for line, top in imported_packages(path, root):
            if top not in allowed:
                bad.append(f"{path.relative_to(root)}:{line} imports {top}")
    return bad


@pytest.mark.parametrize("package", OURS)
def test_every_import_points_down_the_house(package: str) -> None:
    assert _modules(package), f"{package}/ has no modules (moved?)"
    assert violations(package) == []


def test_the_checker_sees_a_forbidden_import_even_inside_a_function(tmp_path: Path) -> None:
    (tmp_path / "databus").mkdir()
    (tmp_path / "databus" / "probe.py").write_text(
        "from . import metrics\n\n\ndef f() -> None:\n    from streams.population import worker\n",
        encoding="utf-8",
    )
    assert violations("databus", tmp_path) == ["databus/probe.py:5 imports streams"]


def test_a_role_importing_another_role_is_caught(tmp_path: Path) -> None:
    (tmp_path / "streams" / "sub").mkdir(parents=True)
    (tmp_path / "streams" / "sub" / "probe.py").write_text(
        "import consumers.sink\nfrom producers.sdk import Publisher\nimport databus, streams\n",
        encoding="utf-8",
    )
    assert violations("streams", tmp_path) == [
        "streams/sub/probe.py:1 imports consumers",
        "streams/sub/probe.py:2 imports producers",
    ]
