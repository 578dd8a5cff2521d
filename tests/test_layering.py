"""The layers of docs/ARCHITECTURE.md, enforced over every module's imports (function-level imports included).

    harness (runner)              may import anything below
    reports                       harness.core only
    metrics, reference_models     harness.core only; never each other
    harness.core                  the standard library, numpy, torch and PIL only

and the graph of project modules has no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "metrics", "reference_models", "reports")
CORE_THIRD_PARTY = {"numpy", "torch", "PIL"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_sources() -> dict[str, str]:
    """Module name → source of every module of the four packages."""
    paths = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return {_module_name(path): path.read_text() for path in paths}


def imports_of(name: str, source: str, known: set[str]) -> set[str]:
    """Every module ``source`` imports (at any depth of the file), resolved to project modules where possible."""
    found: set[str] = set()
    package = name if name in known and any(k.startswith(name + ".") for k in known) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def layer(module: str) -> str:
    """``core``, ``metrics``, ``reference_models``, ``reports``, ``runner`` or ``external``."""
    top = module.split(".")[0]
    if module == "harness.core" or module.startswith("harness.core."):
        return "core"
    if top == "harness":
        return "runner"
    return top if top in PACKAGES else "external"


ALLOWED = {
    "core": {"core"},
    "metrics": {"core", "metrics"},
    "reference_models": {"core", "reference_models"},
    "reports": {"core", "reports"},
    "runner": {"core", "metrics", "reference_models", "reports", "runner"},
}


def violations(sources: dict[str, str]) -> list[str]:
    """Layer violations and import cycles of ``sources`` (module name → code), as readable lines."""
    known = set(sources)
    graph = {name: imports_of(name, code, known) for name, code in sources.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        own = layer(name)
        for target in sorted(targets):
            kind = layer(target)
            if kind == "external":
                top = target.split(".")[0]
                if own == "core" and top not in CORE_THIRD_PARTY and top not in sys.stdlib_module_names:
                    problems.append(f"{name} (core) imports {target}: core may use the stdlib, numpy, torch, PIL")
            elif kind not in ALLOWED[own]:
                problems.append(f"{name} ({own}) imports {target} ({kind})")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (or a self-import)."""
    edges = {n: {t for t in ts if t in graph and t != n} for n, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_the_tree_respects_the_layers_and_has_no_cycle():
    problems = violations(project_sources())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("module", "code", "expected"), [
    ("metrics.planted", "def f():\n    from harness.suite import plan\n", "(metrics) imports harness.suite"),
    ("metrics.planted", "from reference_models.networks import GANLoss\n", "imports reference_models.networks"),
    ("reference_models.planted", "import metrics.fcn_score\n", "imports metrics.fcn_score (metrics)"),
    ("reports.planted", "from harness.tasks import TASKS\n", "reports.planted (reports) imports harness.tasks"),
    ("harness.core.planted", "from harness.config import flatten\n", "harness.core.planted (core) imports"),
    ("harness.core.planted", "import pandas\n", "core may use the stdlib, numpy, torch, PIL"),
])
def test_a_planted_upward_import_is_found(module, code, expected):
    sources = {**project_sources(), module: code}
    assert any(expected in line for line in violations(sources)), violations(sources)


def test_a_planted_cycle_is_found():
    sources = {**project_sources(), "harness.planted_a": "import harness.planted_b\n",
               "harness.planted_b": "def f():\n    from harness import planted_a\n"}
    assert "import cycle: harness.planted_a -> harness.planted_b" in violations(sources)
