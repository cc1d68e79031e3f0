"""The shape of the imports under src/promptarena (and the workbench's pages in app/): no cycle at import time,
no reach into another package's private modules, and an engine that does not depend on how results are rendered."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
APP = Path(__file__).parents[1] / "app"
ROOT = "promptarena"


@dataclass(frozen=True)
class Edge:
    """One import: who imports what, on which line, and whether it runs when the importer is imported."""

    importer: str
    imported: str
    line: int
    module_level: bool
    type_only: bool


def _modules() -> dict[str, Path]:
    """Every module under src/promptarena by dotted name (a package by its own name)."""
    out = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _package(module: str) -> str:
    """The package a module belongs to: itself for a package, else its parent."""
    return module if MODULES.get(module, Path()).name == "__init__.py" else module.rpartition(".")[0]


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The project modules an import statement names (``from a import b`` names ``a.b`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = _package(module)
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    return [source] + [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES]


def _edges(module: str, path: Path | None = None) -> list[Edge]:
    """Every import of a project module in ``module`` (read from ``path``, by default its file under src/), at
    module level or inside a function."""
    path = path or MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: list[Edge] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, module):
                    if target == ROOT or target.startswith(ROOT + "."):
                        out.append(Edge(module, target, child.lineno, not in_function, type_only))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for part in child.body:
                    visit(ast.Module(body=[part], type_ignores=[]), in_function, True)
                for part in child.orelse:
                    visit(ast.Module(body=[part], type_ignores=[]), in_function, type_only)
            else:
                visit(child, in_function, type_only)

    visit(tree, False, False)
    return out


EDGES = [edge for module in MODULES for edge in _edges(module)]
APP_EDGES = [
    edge
    for path in sorted(APP.rglob("*.py"))
    for edge in _edges(".".join((ROOT, "app", *path.relative_to(APP).with_suffix("").parts)), path)
]


def _runtime_graph(in_functions: bool = False) -> dict[str, set[str]]:
    """Module-level imports that run at import time (with ``in_functions``, those inside functions too, which run
    when the function is called); importing ``a.b.c`` also runs the packages ``a.b`` above it, except those that
    enclose the importer (already being imported when it runs)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for edge in EDGES:
        if not (edge.module_level or in_functions) or edge.type_only:
            continue
        parts = edge.imported.split(".")
        for n in range(2, len(parts) + 1):
            target = ".".join(parts[:n])
            encloses = edge.importer == target or edge.importer.startswith(target + ".")
            if target in MODULES and not encloses:
                graph[edge.importer].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _private_owner(module: str) -> str | None:
    """The package whose private module ``module`` is (the parent of its first ``_x`` part), or None."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_the_walk_sees_the_code_base() -> None:
    assert len(MODULES) > 80 and "promptarena.engine" in MODULES and "promptarena.store" in MODULES
    assert any(e.importer == "promptarena.engine" and e.imported == "promptarena.plan" for e in EDGES)
    assert any(not e.module_level for e in EDGES) and any(e.type_only for e in EDGES)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_among_module_level_imports() -> None:
    graph = _runtime_graph()
    cycles = _cycles(graph)
    named = [" -> ".join(c) + f" (edges: {sorted((a, b) for a in c for b in graph[a] if b in c)})" for c in cycles]
    assert not cycles, "modules that import each other at import time: " + "; ".join(named)


def test_no_cycle_through_imports_inside_functions_either() -> None:
    """A function-level import that closes a cycle hides a dependency both ways: the two modules are one."""
    graph = _runtime_graph(in_functions=True)
    named = [" -> ".join(c) for c in _cycles(graph)]
    assert not named, "modules that depend on each other at run time: " + "; ".join(named)


def test_no_module_imports_a_private_module_of_another_package() -> None:
    assert any(e.importer == f"{ROOT}.app.Overview" for e in APP_EDGES)  # the pages are read too
    offenders = sorted(
        f"{e.importer}:{e.line} imports {e.imported}"
        for e in [*EDGES, *APP_EDGES]
        if (owner := _private_owner(e.imported)) is not None
        and not (e.importer == owner or e.importer.startswith(owner + "."))
    )
    assert not offenders, "import the package's public names instead: " + "; ".join(offenders)


def test_the_engine_imports_nothing_from_report() -> None:
    offenders = sorted(
        f"{e.importer}:{e.line} imports {e.imported}"
        for e in EDGES
        if e.importer == f"{ROOT}.engine"
        and (e.imported == f"{ROOT}.report" or e.imported.startswith(f"{ROOT}.report."))
    )
    assert not offenders, "the engine returns results; rendering them is report/'s job: " + "; ".join(offenders)
