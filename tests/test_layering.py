"""The package's layering: no import cycles, and stages that know nothing of the runner or store.

Every ``import`` counts, inside functions and under ``TYPE_CHECKING`` too: a cycle hidden behind
a type-only import is still two modules that cannot be read apart (issue 12).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "archiver"
#: Stages of the data flow: each may use the stages before it, never the runner or the store.
STAGES = ("ingest", "net", "capture", "evidence", "linkrot", "recover")
ORCHESTRATION = ("run", "store", "publish")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """The archiver modules ``path`` imports (a package import counts as its ``__init__``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.startswith("archiver"))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in imported(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_never_imports_the_runner_or_the_store(
    stage: str, graph: dict[str, set[str]]
) -> None:
    reaching = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith(f"archiver.{stage}")
        for target in targets
        if target.startswith(tuple(f"archiver.{layer}" for layer in ORCHESTRATION))
    }
    assert reaching == set()


def test_cycles_are_found() -> None:
    """The checker itself: a two-module loop is reported."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
