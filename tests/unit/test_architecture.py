"""The house plan, checked: carloop's import graph has no cycle, rules stay pure, files stay small.

The graph is read from the source (every ``import`` anywhere in a module, including the ones inside
functions, which still tie the two modules together), not from what happens to be imported at run
time. Migrations are left out: they are frozen history.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import carloop

ROOT = Path(carloop.__file__).resolve().parent
MAX_LINES = 500

# Composition roots: they wire every domain together, and nothing in a domain imports them.
COMPOSITION_ROOTS = frozenset(
    {
        "carloop.web.app",
        "carloop.web.asgi",
        "carloop.models",
        "carloop.handlers",
    }
)
# A domain's web edge (and its demo seeding) is the outermost layer of that domain: it may use any
# domain's core and the web toolkit, and only the composition roots import it. It is therefore its
# own node in the package graph, not part of its domain's core.
EDGE_NAMES = frozenset({"pages", "api", "asgi", "fast", "edge", "demo"})
EDGE_SUFFIXES = ("_pages", "_api")
OUTSIDE_PACKAGES = ("carloop.cli", "carloop.bench")  # entry points: they import domains, never the reverse

# Cycles that another change in flight removes. Each entry is one cycle, as the sorted members of
# its strongly connected component; keep this empty once the change lands.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()

FORBIDDEN_IN_RULES = ("sqlalchemy", "fastapi", "starlette")

# Files allowed over MAX_LINES for now, each with the change that splits it (keep this empty).
LARGE_FILES_IN_FLIGHT: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        if "migrations" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The carloop module ``name`` refers to (an attribute import resolves to its module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every carloop module that ``module`` imports, anywhere in its source."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            if name == "carloop" or name.startswith("carloop."):
                target = _resolve(name)
                if target is not None and target != module and target != "carloop":
                    found.add(target)
    return found


def external_imports_of(module: str) -> set[str]:
    """The top-level names of every non-carloop package ``module`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {"carloop"}


GRAPH = {module: imports_of(module) for module in MODULES}


def node_of(module: str) -> str:
    """The package-graph node of a module: its domain package, or itself for roots and edges."""
    if module in COMPOSITION_ROOTS or module.startswith(OUTSIDE_PACKAGES):
        return module
    last = module.rpartition(".")[2]
    if last in EDGE_NAMES or last.endswith(EDGE_SUFFIXES):
        return module
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def cycles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """Every strongly connected component with more than one member (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.add(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        found.append(frozenset(members))
    return found


def _describe(component: frozenset[str], graph: Mapping[str, Iterable[str]]) -> str:
    edges = [f"{a} -> {b}" for a in sorted(component) for b in sorted(graph.get(a, ())) if b in component]
    return "\n    ".join(edges)


def test_the_cycle_finder_finds_a_cycle_and_ignores_a_chain() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [frozenset("abc")]
    assert cycles({"a": ["b"], "b": ["c"], "c": []}) == []


def test_no_module_imports_itself_back() -> None:
    found = [c for c in cycles(GRAPH) if c not in KNOWN_CYCLES]
    assert not found, "import cycles among modules:\n    " + "\n\n    ".join(
        _describe(c, GRAPH) for c in found
    )


def test_no_domain_package_imports_itself_back() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        packages[node_of(module)] |= {node_of(t) for t in targets} - {node_of(module)}
    found = [c for c in cycles(packages) if c not in KNOWN_CYCLES]
    assert not found, "import cycles among packages:\n    " + "\n\n    ".join(
        _describe(c, packages) for c in found
    )


def test_nothing_but_the_entry_points_imports_the_bench() -> None:
    offenders = {
        module
        for module, targets in GRAPH.items()
        if not module.startswith(OUTSIDE_PACKAGES) and any(t.startswith("carloop.bench") for t in targets)
    }
    assert not offenders


def _reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for target in GRAPH[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_rules_import_no_database_web_or_table_module_even_indirectly() -> None:
    rules = [m for m in MODULES if m.endswith(".rules")]
    assert len(rules) >= 10
    problems = []
    for module in rules:
        reached = _reachable(module) | {module}
        tables = sorted(m for m in reached if m.rpartition(".")[2] == "models")
        frameworks = sorted(
            {name for m in reached for name in external_imports_of(m) if name in FORBIDDEN_IN_RULES}
        )
        if tables or frameworks:
            problems.append(f"{module}: {', '.join(tables + frameworks)}")
    assert not problems, "rules that are not pure:\n  " + "\n  ".join(problems)


def test_no_product_file_is_over_500_lines() -> None:
    too_long = {}
    for path in MODULES.values():
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and rel not in LARGE_FILES_IN_FLIGHT:
            too_long[rel] = lines
    assert not too_long, f"split these files by use case (over {MAX_LINES} lines): {too_long}"


# The web package: composition modules wire domains together; two edge helpers serve one domain each;
# everything else is a toolkit every domain's edge may use, so it must not reach back into a domain.
WEB_COMPOSITION = frozenset(
    {
        "carloop.web.app",
        "carloop.web.asgi",
        "carloop.web.captures",
        "carloop.web.lanes",
        "carloop.web.booking_lane",
    }
)
WEB_EDGE_HELPERS = {"carloop.web.deps": "carloop.accounts", "carloop.web.tracking": "carloop.analytics"}
SHARED_KERNEL = (
    "carloop.errors",
    "carloop.settings",
    "carloop.clock",
    "carloop.money",
    "carloop.db",
    "carloop.messages",
    "carloop.web",
)


def test_the_web_toolkit_reaches_no_domain() -> None:
    offenders = {}
    for module, targets in GRAPH.items():
        if not module.startswith("carloop.web") or module in WEB_COMPOSITION:
            continue
        allowed = SHARED_KERNEL + ((WEB_EDGE_HELPERS[module],) if module in WEB_EDGE_HELPERS else ())
        reached = sorted(t for t in targets if not t.startswith(allowed) or t in WEB_COMPOSITION)
        if reached:
            offenders[module] = reached
    assert not offenders, offenders
