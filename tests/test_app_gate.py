"""The login gate (AppTest): a logged-out session reaches no page; register, log in, log out."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core.services.accounts import verify_password
from tests.app_support import (PAGES, PASSWORD, ROOT, TIMEOUT, app_env, logged_in, new_app, page,  # noqa: F401
                               svc, texts)

APP_PAGES = sorted(p.stem for p in PAGES.glob("*.py") if p.stem != "login")


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
    assert [w.value for w in at.warning] == ["Log in to see this page."]
    assert not at.title and not at.text_input and not at.selectbox and not at.chat_input and not at.file_uploader


def test_wrong_password_says_so_and_the_right_one_logs_in(app_env, svc):
    svc.accounts.register("prof@example.edu", PASSWORD, "Prof")
    at = _login_form(new_app(app_env).run(), "prof@example.edu", "not-the-password-1")
    assert [e.value for e in at.error] == ["Wrong email or password."]
    assert at.session_state["authentication_status"] is False
    at = _login_form(at, "prof@example.edu", PASSWORD)
    assert not at.exception
    assert at.title[0].value == "Your classes"
    assert at.session_state["username"] == "prof@example.edu"
    assert "Signed in as **Prof**" in texts(at)


def test_log_out_returns_to_the_login_page_and_closes_every_page(app_env, svc):
    svc.accounts.register("prof@example.edu", PASSWORD, "Prof")
    at = logged_in(app_env, "prof@example.edu", page_name="chat")
    at.sidebar.button(key="sidebar_logout").click().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert not at.session_state["authentication_status"]
    for name in APP_PAGES:
        with pytest.raises(ValueError, match="Known pages: \\['.*login.py'\\]"):
            at.switch_page(page(name))


def test_register_writes_the_users_table(app_env, svc):
    at = _register(new_app(app_env).run(), "Ada@Example.edu", "Analytical-9")
    assert not at.exception and not at.error
    user = svc.accounts.by_email("ada@example.edu")
    assert user.name == "Ada"
    assert verify_password("Analytical-9", user.password_hash)
    # back on the login form with the email filled in; the new account logs in
    assert "Account created for ada@example.edu" in texts(at)
    assert at.text_input(key="login_email").value == "ada@example.edu"
    at = _login_form(at, "ada@example.edu", "Analytical-9")
    assert at.title[0].value == "Your classes"


@pytest.mark.parametrize("password, repeat, message", [
    ("password1", None, "too common"),
    ("short1", None, "at least 8 characters"),
    ("onlyletters", None, "mix letters with digits"),
    ("adalovelace1", None, "matches your email"),
    ("Analytical-9", "Analytical-8", "Passwords do not match"),
])
def test_registration_enforces_our_password_rules(app_env, svc, password, repeat, message):
    at = _register(new_app(app_env).run(), "adalovelace1@example.edu", password, repeat)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert svc.accounts.count() == 0


def test_registering_an_existing_email_says_so(app_env, svc):
    svc.accounts.register("ada@example.edu", PASSWORD, "Ada")
    at = _register(new_app(app_env).run(), "ada@example.edu", "Analytical-9")
    assert at.error and "already" in at.error[0].value
    assert svc.accounts.count() == 1


def test_a_session_for_a_deleted_account_is_logged_out(app_env, svc):
    at = new_app(app_env)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "ghost@example.edu"  # e.g. a cookie for an account removed since
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]


def test_production_refuses_a_placeholder_cookie_key(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("AUTH_COOKIE_KEY", "change-me")
    at = new_app(app_env).run()
    assert not at.text_input
    assert "AUTH_COOKIE_KEY" in at.error[0].value


def test_secrets_become_settings(app_env, svc):
    svc.accounts.register("boss@example.edu", PASSWORD, "Boss")
    os.environ.pop("ADMIN_EMAILS", None)
    import streamlit as st

    st.cache_resource.clear()  # Settings are read when the services are built
    try:
        at = new_app(app_env)
        at.secrets["ADMIN_EMAILS"] = "boss@example.edu"
        at.session_state["authentication_status"] = True
        at.session_state["username"] = "boss@example.edu"
        at.run()
        assert at.session_state["classgpt_actor"].is_admin
    finally:
        os.environ.pop("ADMIN_EMAILS", None)


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
    monkeypatch.setenv("ADMIN_EMAILS", "boss@example.edu")
    from ui.state import get_services

    accounts = get_services().accounts
    accounts.register("boss@example.edu", PASSWORD, "Boss")
    accounts.register("prof@example.edu", PASSWORD, "Prof")
    at = logged_in(app_env, "boss@example.edu", page_name="status")
    assert at.title[0].value == "Status"
    at = logged_in(app_env, "prof@example.edu")
    with pytest.raises(ValueError):
        at.switch_page(page("status"))
