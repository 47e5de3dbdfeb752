"""The dependency rule, read off the code: `core` knows no screen (it never imports streamlit, not
even lazily); the app, its pages and the load test (a client of the app) are outside it."""
from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_never_imports_streamlit_or_the_screen_side():
    offenders = {str(path.relative_to(CORE.parent)): sorted(m for m in imported_modules(path)
                                                            if m.split(".")[0] in ("streamlit", "ui", "pages", "loadtest"))
                 for path in CORE.rglob("*.py")}
    assert {path: mods for path, mods in offenders.items() if mods} == {}


# The floors below the services: they know nothing of who asks, nor of each other's callers.
BELOW_SERVICES = ("core.search", "core.ingest", "core.answers", "core.storage", "core.jobs", "core.text",
                  "core.models", "core.database", "core.config", "core.errors", "core.events")


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_imports() -> dict[str, set[str]]:
    """Each core module's imports of other core modules (lazy ones inside functions included)."""
    modules = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for imported in imported_modules(path):
            while imported and imported not in modules:  # `from core.search.cache import X` names a module
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported.startswith("core"):
                found.add(imported)
        graph[name] = found
    return graph


def test_nothing_below_the_services_imports_them():
    up = {name: sorted(m for m in imports if m.startswith("core.services") or m.startswith("core.cli")
                       or m.startswith("core.measure") or m.startswith("core.ops"))
          for name, imports in _core_imports().items() if name.startswith(BELOW_SERVICES)}
    assert {name: mods for name, mods in up.items() if mods} == {}


def test_no_import_circles_in_core():
    graph = _core_imports()
    # a package's __init__ importing its own submodules is how it names its surface, not a circle
    edges = {m: {i for i in imports if not m.startswith(i + ".") and not i.startswith(m + ".")}
             for m, imports in graph.items()}
    circles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []
