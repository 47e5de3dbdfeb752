"""The docs name the code as it is: every module path, dotted name and `Class.member` that README.md or
docs/*.md cite exists. Read off the code's own definitions (its AST): nothing is imported or run."""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_DIRS = ("core", "ui", "pages", "db", "tests", "scripts", "docker", "loadtest", ".ci", ".streamlit")
# a path into the code, as the docs write one: core/search/cache.py, ui/, db/versions/0010_ingest_jobs.py
PATH = re.compile(r"(?<![\w/.-])((?:" + "|".join(re.escape(d) for d in CODE_DIRS) + r")/[\w./-]*[\w/])")
DOTTED = re.compile(r"(?<![\w.])((?:core|ui|pages|loadtest)(?:\.\w+)+)")
MEMBER = re.compile(r"(?<![\w.])([A-Z]\w+)\.([a-z_]\w*)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# named on purpose though never in the repository, with why
NOT_IN_THE_REPOSITORY = {".streamlit/secrets.toml": "the operator's secrets: never committed (the .example is)"}


def _python_files() -> list[Path]:
    return [p for d in ("core", "ui", "pages", "loadtest", "tests", "db") for p in (ROOT / d).rglob("*.py")] + \
        [ROOT / "app.py"]


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _names(body: list[ast.stmt]) -> set[str]:
    """Names a module or class body defines: functions, classes, assignments, annotated fields, imports."""
    out: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.If, ast.Try)):  # `if TYPE_CHECKING:` imports, guarded definitions
            out |= _names(node.body) | _names(getattr(node, "orelse", []))
            for handler in getattr(node, "handlers", []):
                out |= _names(handler.body)
    return out


@cache
def _classes() -> dict[str, list[ast.ClassDef]]:
    found: dict[str, list[ast.ClassDef]] = {}
    for path in _python_files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(node)
    return found


def _members(name: str, seen: frozenset[str] = frozenset()) -> set[str] | None:
    """What our class `name` defines, with what its bases (ours) define; None: not a class of ours."""
    nodes = _classes().get(name)
    if not nodes:
        return None
    out: set[str] = set()
    for node in nodes:
        out |= _names(node.body)
        for fn in (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"):
            out |= {t.attr for t in ast.walk(fn) if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                    and t.value.id == "self" and isinstance(t.ctx, ast.Store)}
        for base in node.bases:
            base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if base_name and base_name not in seen:
                out |= _members(base_name, seen | {name}) or set()
    return out


def _module_file(parts: list[str]) -> Path | None:
    path = ROOT.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _dotted_exists(dotted: str) -> bool:
    """core.services.ingestion.STAGES: the longest prefix that is a module, then names defined in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module_file(parts[:cut])
        if module is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        if rest[0] not in _names(_tree(module).body):
            return False
        return len(rest) == 1 or (_members(rest[0]) or set()) >= {rest[1]}
    return False


def _is_path(text: str) -> bool:
    """A file (its last part has an extension), a folder (a trailing slash), or a file-name prefix
    (tests/test_app_): not "pages/s" (pages per second), not a pattern with placeholders."""
    last = text.rsplit("/", 1)[-1]
    return not re.search(r"[<>*{}]|\.\.\.", text) and (text.endswith("/") or "." in last or last.endswith("_"))


def _path_exists(path: str) -> bool:
    if path.endswith("_"):  # a prefix: tests/test_app_ (the AppTest files)
        folder, prefix = path.rsplit("/", 1)
        return any((ROOT / folder).glob(f"{prefix}*"))
    return (ROOT / path.rstrip("/")).exists() or path in NOT_IN_THE_REPOSITORY


def _cited() -> list[tuple[str, str, str]]:
    """(doc, kind, what) for every path, dotted name and Class.member the docs cite."""
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        name = doc.relative_to(ROOT).as_posix()
        out += [(name, "path", m) for m in PATH.findall(text) if _is_path(m)]
        for span in CODE_SPAN.findall(text):
            out += [(name, "dotted", m) for m in DOTTED.findall(span)]
            out += [(name, "member", f"{cls}.{attr}") for cls, attr in MEMBER.findall(span)]
    return sorted(set(out))


def test_the_docs_cite_things_at_all():
    kinds = {kind for _, kind, _ in _cited()}
    assert kinds == {"path", "dotted", "member"} and len(_cited()) > 150


@pytest.mark.parametrize("doc, kind, what", _cited())
def test_what_the_docs_cite_exists(doc, kind, what):
    if kind == "path":
        assert _path_exists(what), f"{doc} names {what}, which is not in the repository"
    elif kind == "dotted":
        assert _dotted_exists(what), f"{doc} names {what}, which the code does not define"
    else:
        cls, attr = what.split(".")
        members = _members(cls)
        if members is not None:  # a class of ours (others: Streamlit's, pdfium's, the standard library's)
            assert attr in members, f"{doc} names {what}: {cls} has no {attr}"
