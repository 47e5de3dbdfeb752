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
