"""AppTest harness for the Streamlit app: a temporary data dir, the fake embedder, fast bcrypt.

Why a wrapper entry script: Streamlit runs a folder named `pages/` next to the main script
as an automatic page menu until st.navigation is called, and AppTest re-enters that mode on
every run, so after the first run it executes the page file alone and app.py's gate never
runs again. A real server leaves that mode after its first run. The wrapper lives in a
temporary directory without `pages/`, so every AppTest run goes through app.py exactly as
a browser session does. (The first-run case is tested separately: the page files alone.)
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
TIMEOUT = 30
PASSWORD = "correct-horse-9"


def page(name: str) -> str:
    return str(PAGES / f"{name}.py")


@pytest.fixture
def app_env(tmp_path, monkeypatch, fast_bcrypt):
    """Environment for one app: its own SQLite + files, the fake embedder; caches emptied."""
    for var in ("DATABASE_URL", "STORAGE_BACKEND", "USE_S3", "S3_BUCKET", "ADMIN_EMAILS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EMBEDDER", "fake")
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("AUTH_COOKIE_KEY", "t" * 40)
    # the authenticator hashes with bcrypt's default cost; cost 4 keeps registration tests fast
    import bcrypt

    real_gensalt = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=12, prefix=b"2b": real_gensalt(4, prefix))
    st.cache_resource.clear()
    st.cache_data.clear()
    entry = tmp_path / "entry.py"
    entry.write_text(
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"runpy.run_path({str(ROOT / 'app.py')!r}, run_name='__main__')\n"
    )
    yield entry
    from ui.state import get_services

    try:
        get_services().db.engine.dispose()  # the cached object, or a throwaway one on a fresh cache
    except Exception:  # e.g. a test that made the settings invalid on purpose
        pass
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def svc(app_env):
    """The same services object the app uses (st.cache_resource), for seeding and checking."""
    from ui.state import get_services

    return get_services()


@pytest.fixture
def setup(svc):
    """An instructor's class "Biology 101" with one enrolled student: (prof, student, class)."""
    prof = svc.accounts.register("prof@example.edu", PASSWORD, "Prof").actor()
    stu = svc.accounts.register("stu@example.edu", PASSWORD, "Stu").actor()
    klass = svc.classes.create(prof, "Biology 101")
    svc.classes.join(stu, klass.join_code)
    return prof, stu, klass


def new_app(entry: Path) -> AppTest:
    return AppTest.from_file(str(entry), default_timeout=TIMEOUT)


def logged_in(entry: Path, email: str, *, page_name: str | None = None, password: str = PASSWORD) -> AppTest:
    """An app whose session is signed in as email (as after a valid cookie), on page_name."""
    from ui.auth import SESSION_KEY
    from ui.state import get_services

    at = new_app(entry)
    at.session_state[SESSION_KEY] = get_services().accounts.log_in(email, password).token
    at.run()
    if page_name:
        at.switch_page(page(page_name)).run()
    assert not at.exception, at.exception
    return at


def shown(markdown: object) -> str:
    """What a Markdown source shows as text where it only escapes (ui/safe.py): the backslashes go."""
    return re.sub(r"\\(.)", r"\1", str(markdown))


def values(elements) -> list[str]:
    return [shown(e.value) for e in elements]


def texts(at: AppTest) -> str:
    """Every bit of text on the page, as shown, for `in` checks."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning", "error", "code"):
        parts.extend(values(getattr(at, kind)))
    return "\n".join(parts)
