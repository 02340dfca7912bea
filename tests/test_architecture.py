"""The import structure the design promises: no cycles, layers importing downwards only."""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS = {
    "shared": 1, "attacks": 1,
    "policy": 2, "guard": 2,
    "models": 3, "evals": 3,
    "redteam": 4,
    "report": 5, "store": 5,
    "assess": 6,
    "cli": 7, "_registry": 7,
}  # fmt: skip
"""Each package's layer (docs/architecture.md); `shared` is redline's top-level modules."""
SAME_LAYER = {("evals", "models"), ("store", "report")}
"""Imports between packages of one layer that the design allows (importer, imported)."""


def modules() -> dict[str, Path]:
    """Every module of the redline package by dotted name."""
    found = {}
    for path in (SRC / "redline").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The redline modules `name` imports anywhere in its file.

    Top level, in functions, and under TYPE_CHECKING: a reader follows those too.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base]).strip(".")
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, set(known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def package(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in LAYERS):
        return "shared"
    return parts[1]


def test_no_import_cycles_among_modules():
    assert cycles(graph()) == []


def test_no_import_cycles_among_packages():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph().items():
        edges[package(module)] |= {package(t) for t in targets} - {package(module)}
    assert cycles(edges) == []


def test_packages_import_only_their_own_layer_or_below():
    wrong = []
    for module, targets in graph().items():
        mine = package(module)
        for target in targets:
            theirs = package(target)
            if theirs in (mine, "shared"):
                continue
            if LAYERS[theirs] > LAYERS[mine] or (
                LAYERS[theirs] == LAYERS[mine] and (mine, theirs) not in SAME_LAYER
            ):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_no_module_imports_another_packages_private_module():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            private = [p for p in target.split(".")[1:] if p.startswith("_")]
            if private and package(target) not in ("shared", package(module)):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_one_module_reads_inspects_private_modules():
    wrong = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            found = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            for imported in found:
                parts = imported.split(".")
                if parts[0] == "inspect_ai" and any(p.startswith("_") for p in parts[1:]):
                    wrong.append(f"{name} -> {imported}")
    assert all(w.startswith("redline._inspect ->") for w in wrong), wrong
