"""The package's layout: folders by stage, no import circle, the old flat module paths still import."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

import gridgeo
from gridgeo._moved import MOVED

PACKAGE = Path(gridgeo.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__main__.py"}


def _top_level(body: list[ast.stmt]):
    """Statements run when the module is imported: the body, and the bodies of its if/try blocks (not ``if TYPE_CHECKING``)."""
    for node in body:
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(handler.body for handler in node.handlers)):
                yield from _top_level(block)
        else:
            yield node


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The gridgeo modules that importing ``name`` runs first, from its module-level import statements."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target.startswith("gridgeo"):
                # a submodule is imported after its parent packages
                parts = target.split(".")
                found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1) if ".".join(parts[:k]) in modules)
    found.discard(name)
    # a module's own parent packages run before it: an import of them is no edge of a circle
    return {other for other in found if not name.startswith(other + ".")}


def _find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == 1:
                return stack[stack.index(other) :] + [other]
            if other not in state and (circle := visit(other)):
                return circle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            return circle
    return None


def test_module_level_imports_of_the_package_have_no_circle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert sum(map(len, graph.values())) > 150  # the walk reads the real imports (api alone imports over a dozen modules)
    assert graph["gridgeo.api"] >= {"gridgeo.gather", "gridgeo.inputs.validate", "gridgeo.result"}
    assert _find_circle(graph) is None, " -> ".join(_find_circle(graph))


def test_the_circle_finder_finds_a_circle():
    assert _find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_circle({"a": {"b"}, "b": set()}) is None


def test_stage_folders_hold_the_stages():
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert {"inputs", "cells", "partition", "units", "governance", "outputs", "living", "cli"} <= folders
    for folder in folders:
        assert importlib.import_module(f"gridgeo.{folder}").__doc__, f"gridgeo/{folder}/__init__.py says what the stage holds"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_import_the_moved_module_with_a_warning(old):
    new = importlib.import_module(f"gridgeo.{MOVED[old]}")
    sys.modules.pop(f"gridgeo.{old}", None)  # an earlier import of the old path is cached: import it afresh
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moved = importlib.import_module(f"gridgeo.{old}")
    assert moved is new
    assert any(issubclass(w.category, DeprecationWarning) and f"gridgeo.{MOVED[old]}" in str(w.message) for w in caught)
    assert not (PACKAGE / f"{old}.py").exists()


def test_public_names_still_work():
    for name in gridgeo.__all__:
        assert getattr(gridgeo, name) is not None
    from gridgeo.units import cut_households

    assert callable(cut_households)
