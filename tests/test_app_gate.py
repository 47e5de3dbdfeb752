"""The login gate (AppTest): a logged-out session reaches no page; register, log in, log out."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core.services.actors import SYSTEM
from ui.auth import SESSION_KEY
from tests.app_support import (PAGES, PASSWORD, ROOT, TIMEOUT, app_env, logged_in, new_app, page,  # noqa: F401
                               shown, svc, texts, values)

APP_PAGES = sorted(p.stem for p in PAGES.glob("*.py") if p.stem != "login")
STRONG = "Analytical-Engine-1843"


def _login_form(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    return next(b for b in at.button if b.label == "Log in").click().run()


def _register(at: AppTest, email: str, password: str, repeat: str | None = None, first: str = "Ada") -> AppTest:
    at.button_group(key="auth_mode").set_value("Create account").run()
    fields = {t.label: t for t in at.text_input}
    fields["First name (optional)"].input(first)
    fields["Email"].input(email)
    fields["Password"].input(password)
    fields["Repeat password"].input(password if repeat is None else repeat)
    return next(b for b in at.button if b.label == "Create account").click().run()


def test_logged_out_session_has_the_login_page_only(app_env):
    at = new_app(app_env).run()
    assert not at.exception
    assert [t.value for t in at.title] == [":material/school: ClassGPT"]
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert not at.sidebar.button  # no navigation, no log-out, nothing of the app
    for name in APP_PAGES:
        with pytest.raises(ValueError, match="Known pages: \\['.*login.py'\\]"):
            at.switch_page(page(name))


@pytest.mark.parametrize("name", APP_PAGES)
def test_a_page_file_run_on_its_own_shows_nothing_without_login(app_env, name):
    # what Streamlit's automatic pages/ menu would run on a fresh server's first request
    at = AppTest.from_file(page(name), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [shown(w.value) for w in at.warning] == ["Log in to see this page."]
    assert not at.title and not at.text_input and not at.selectbox and not at.chat_input and not at.file_uploader


def test_wrong_password_says_so_and_the_right_one_logs_in(app_env, svc):
    svc.accounts.register("prof@example.edu", PASSWORD, "Prof")
    at = _login_form(new_app(app_env).run(), "prof@example.edu", "not-the-password-1")
    assert values(at.error) == ["Wrong email or password."]
    assert SESSION_KEY not in at.session_state
    at = _login_form(at, "prof@example.edu", PASSWORD)
    assert not at.exception
    assert at.title[0].value == "Your classes"
    assert svc.accounts.resume(at.session_state[SESSION_KEY]).email == "prof@example.edu"
    assert "Signed in as **Prof**" in texts(at)


def test_log_out_returns_to_the_login_page_and_closes_every_page(app_env, svc):
    svc.accounts.register("prof@example.edu", PASSWORD, "Prof")
    at = logged_in(app_env, "prof@example.edu", page_name="chat")
    token = at.session_state[SESSION_KEY]
    at.sidebar.button(key="sidebar_logout").click().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert SESSION_KEY not in at.session_state
    assert svc.accounts.resume(token) is None  # ended on the server, not only in this browser
    assert "You have been logged out." in [shown(i.value) for i in at.info]
    for name in APP_PAGES:
        with pytest.raises(ValueError, match="Known pages: \\['.*login.py'\\]"):
            at.switch_page(page(name))


def test_register_writes_the_users_table(app_env, svc):
    at = _register(new_app(app_env).run(), "Ada@Example.edu", STRONG)
    assert not at.exception and not at.error
    user = svc.accounts.lookup(SYSTEM, "ada@example.edu")
    assert user.name == "Ada" and not user.is_admin
    assert svc.accounts.authenticate("ada@example.edu", STRONG).id == user.id
    # back on the login form with the email filled in; the new account logs in
    assert "Account created for ada@example.edu" in texts(at)
    assert at.text_input(key="login_email").value == "ada@example.edu"
    at = _login_form(at, "ada@example.edu", STRONG)
    assert at.title[0].value == "Your classes"


@pytest.mark.parametrize("password, repeat, message", [
    ("password1", None, "very common password"),
    ("Summer2024", None, "similar to a commonly used password"),
    ("short1", None, "at least 8 characters"),
    ("adalovelace1", None, "matches your email"),
    (STRONG, STRONG + "x", "Passwords do not match"),
])
def test_registration_enforces_our_password_rules(app_env, svc, password, repeat, message):
    at = _register(new_app(app_env).run(), "adalovelace1@example.edu", password, repeat)
    assert any(message in shown(e.value) for e in at.error), [shown(e.value) for e in at.error]
    assert svc.accounts.count() == 0


def test_registering_an_existing_email_says_so(app_env, svc):
    svc.accounts.register("ada@example.edu", PASSWORD, "Ada")
    at = _register(new_app(app_env).run(), "ada@example.edu", STRONG)
    assert at.error and "already" in shown(at.error[0].value)
    assert svc.accounts.count() == 1


def test_a_session_for_a_deleted_account_is_logged_out(app_env, svc):
    svc.accounts.register("ghost@example.edu", PASSWORD, "Ghost")
    at = logged_in(app_env, "ghost@example.edu")
    assert at.title[0].value == "Your classes"
    svc.accounts.delete_user(SYSTEM, "ghost@example.edu")  # e.g. by the operator, while the tab is open
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert "Your session has ended: log in again." in [shown(i.value) for i in at.info]


def test_a_session_from_before_a_password_change_no_longer_logs_in(app_env, svc):
    user = svc.accounts.register("prof@example.edu", PASSWORD, "Prof")
    old_tab = logged_in(app_env, "prof@example.edu")
    svc.accounts.change_password(user.actor(), PASSWORD, STRONG)  # from another browser
    old_tab.run()
    assert [t.label for t in old_tab.text_input] == ["Email", "Password"]
    stale = new_app(app_env)
    stale.session_state[SESSION_KEY] = old_tab.session_state.get(SESSION_KEY) or "the-old-token"
    stale.run()
    assert [t.label for t in stale.text_input] == ["Email", "Password"]


def test_production_refuses_a_placeholder_cookie_key(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("AUTH_COOKIE_KEY", "change-me")
    at = new_app(app_env).run()
    assert not at.text_input
    assert "AUTH_COOKIE_KEY" in shown(at.error[0].value)


def test_secrets_become_settings(app_env, svc):
    os.environ.pop("MAX_UPLOAD_MB", None)
    import streamlit as st

    from ui.state import get_services

    st.cache_resource.clear()  # Settings are read when the services are built
    try:
        at = new_app(app_env)
        at.secrets["MAX_UPLOAD_MB"] = "7"
        at.run()
        assert not at.exception and get_services().settings.max_upload_mb == 7
    finally:
        os.environ.pop("MAX_UPLOAD_MB", None)


def test_the_login_page_does_not_import_the_model(tmp_path):
    """Neither torch nor sentence-transformers is imported on the login page's path."""
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "assert [t.label for t in at.text_input] == ['Email', 'Password']\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "EMBEDDER": "minilm", "APP_ENV": "test",
           "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout


@pytest.mark.skipif(not (PAGES / "status.py").exists(), reason="no Status page in this checkout")
def test_the_status_page_is_listed_for_admins_only(app_env, monkeypatch):
    from ui.state import get_services

    accounts = get_services().accounts
    accounts.register("boss@example.edu", PASSWORD, "Boss")
    accounts.register("prof@example.edu", PASSWORD, "Prof")
    accounts.set_admin(SYSTEM, "boss@example.edu")
    at = logged_in(app_env, "boss@example.edu", page_name="status")
    assert at.title[0].value == "Status"
    at = logged_in(app_env, "prof@example.edu")
    with pytest.raises(ValueError):
        at.switch_page(page("status"))
