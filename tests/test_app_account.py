"""Account page (AppTest): change the password (checked and written by AccountService), log out."""
from __future__ import annotations

import pytest

from core.errors import AuthError
from tests.app_support import PASSWORD, app_env, logged_in, svc, shown, texts  # noqa: F401

NEW = "Battery-staple-42"


def _change(at, current, new, repeat=None):
    fields = {t.label: t for t in at.text_input}
    fields["Current password"].input(current)
    fields["New password"].input(new)
    fields["Repeat new password"].input(new if repeat is None else repeat)
    return next(b for b in at.button if b.label == "Change password").click().run()


@pytest.fixture
def user(svc):
    return svc.accounts.register("prof@example.edu", PASSWORD, "Prof")


def test_shows_who_i_am(app_env, user):
    at = logged_in(app_env, "prof@example.edu", page_name="account")
    assert at.title[0].value == "Account"
    assert "**Prof**  \nprof@example.edu" in texts(at)


def test_change_password_is_written_to_the_users_table(app_env, svc, user):
    at = logged_in(app_env, "prof@example.edu", page_name="account")
    at = _change(at, PASSWORD, NEW)
    assert not at.exception and not at.error
    assert "Password changed" in shown(at.success[0].value)
    assert svc.accounts.authenticate("prof@example.edu", NEW).id == user.id
    with pytest.raises(AuthError):
        svc.accounts.authenticate("prof@example.edu", PASSWORD)


@pytest.mark.parametrize("current, new, repeat, message", [
    ("wrong-password-1", NEW, None, "The current password is wrong."),
    (PASSWORD, "password1", None, "very common password"),
    (PASSWORD, NEW, "Battery-staple-43", "Passwords do not match"),
])
def test_change_password_errors(app_env, svc, user, current, new, repeat, message):
    at = logged_in(app_env, "prof@example.edu", page_name="account")
    at = _change(at, current, new, repeat)
    assert any(message in shown(e.value) for e in at.error), [shown(e.value) for e in at.error]
    assert svc.accounts.authenticate("prof@example.edu", PASSWORD).id == user.id  # unchanged


def test_log_out(app_env, user):
    at = logged_in(app_env, "prof@example.edu", page_name="account")
    at = at.button(key="account_logout").click().run()
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert "classgpt_session" not in at.session_state


def test_log_out_everywhere_ends_the_other_sessions_too(app_env, svc, user):
    laptop = logged_in(app_env, "prof@example.edu", page_name="account")
    phone = logged_in(app_env, "prof@example.edu", page_name="account")
    at = phone.button(key="account_logout_everywhere").click().run()
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert "You have been logged out everywhere." in texts(at)
    laptop.run()  # the other browser, at its next click
    assert [t.label for t in laptop.text_input] == ["Email", "Password"]


def test_delete_my_account(app_env, svc, user):
    from core.errors import NotFound
    from core.services.actors import SYSTEM

    klass = svc.classes.create(user.actor(), "Taught alone")
    at = logged_in(app_env, "prof@example.edu", page_name="account")
    at.text_input(key="delete_account_password").input(PASSWORD)
    at = next(b for b in at.button if b.label == "Delete my account").click().run()
    assert "Tick the box" in texts(at)  # not without confirming
    assert svc.accounts.lookup(SYSTEM, "prof@example.edu")
    at.text_input(key="delete_account_password").input(PASSWORD)
    at.checkbox(key="delete_account_confirm").check()
    at = next(b for b in at.button if b.label == "Delete my account").click().run()
    assert "Your account has been deleted." in texts(at)
    with pytest.raises(NotFound):
        svc.accounts.lookup(SYSTEM, "prof@example.edu")
    assert [c.name for c in svc.classes.list_for(SYSTEM)] == [klass.name]  # kept, private to admins
