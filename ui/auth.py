"""The login gate and the account forms.

Every account rule and every session lives in AccountService (core/services/accounts.py): the
password check (throttled), the session rows, their revocation. This module only carries the
session's token between the browser's cookie and `st.session_state`:

- after a login the token is kept in the session state and written to the cookie;
- a new browser session (a reload, a new tab) finds the token in the request's cookies;
- every run asks AccountService.resume(token) who is signed in, so a session ended on the server
  (log out, log out everywhere, a password change, a deleted account) ends here on the next click.

st.context reads the request's cookies but cannot write one: a one-line script in a component
frame (same origin) writes and deletes it. docs/app.md says why streamlit-authenticator's
cookie was replaced.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import streamlit as st
import streamlit.components.v1 as components

from core.errors import ClassGPTError, ValidationError
from core.events import log_event
from ui.state import ACTOR_KEY, get_services
from ui.widgets import shown_errors

if TYPE_CHECKING:
    from core.services import Services
    from core.services.accounts import Deletion
    from core.services.actors import Actor

SESSION_KEY = "classgpt_session"  # this browser session's token
_COOKIE_READ = "classgpt_cookie_read"  # the request's cookie was looked at (it never changes in a session)
_COOKIE_WANTED = "classgpt_cookie_wanted"  # the token the cookie should hold; "" = delete it
_COOKIE_WRITES = "classgpt_cookie_writes"
COOKIE_WRITE_RUNS = 3
_LOGOUT = "classgpt_logout_requested"
LOGGED_OUT = "classgpt_logged_out"  # why the last session ended, for the login page
LOGIN_ERROR = "classgpt_login_error"


def client_address(services: Services) -> str:
    """The client's address, from the proxy's header when the operator names one."""
    header = services.settings.client_ip_header
    value = st.context.headers.get(header) if header else st.context.ip_address
    if isinstance(value, str) and value.strip():
        # X-Forwarded-For lists what the client claimed first and what the proxy saw last: only
        # the last address is the proxy's own word
        return value.split(",")[-1].strip()[:64]
    return "unknown"


def gate(services: Services) -> Actor | None:
    """Who is signed in for this run (or None); keeps the browser's cookie in step."""
    ss = st.session_state
    cookie_name = services.settings.auth_cookie_name
    if ss.pop(_LOGOUT, False):
        services.accounts.log_out(ss.get(SESSION_KEY))
        log_event("logout", user=getattr(ss.get(ACTOR_KEY), "email", None))
        _forget(ss, "You have been logged out.")
    token = ss.get(SESSION_KEY)
    if token is None and not ss.get(_COOKIE_READ):
        ss[_COOKIE_READ] = True
        cookie = st.context.cookies.get(cookie_name)  # a new browser session: the request's cookie
        token = cookie if isinstance(cookie, str) and cookie else None
    actor = services.accounts.resume(token)
    if actor is None and token is not None:
        # ended on the server (elsewhere, by a password change, by an administrator) or expired;
        # said also for a cookie that no longer logs in, so a reload does not just show the login
        _forget(ss, "Your session has ended: log in again.")
    elif actor is not None:
        ss[SESSION_KEY] = token
        ss[ACTOR_KEY] = actor
    _sync_cookie(services, cookie_name)
    return actor


def _forget(ss, why: str | None) -> None:
    ss.pop(SESSION_KEY, None)
    ss.pop(ACTOR_KEY, None)
    ss[_COOKIE_READ] = True
    _want_cookie(ss, "")
    if why:
        ss[LOGGED_OUT] = why


def _want_cookie(ss, token: str) -> None:
    """Have the browser's cookie hold this token ("" deletes it), from the next run on."""
    ss[_COOKIE_WANTED] = token
    ss.pop(_COOKIE_WRITES, None)


def _sync_cookie(services: Services, cookie_name: str) -> None:
    """Write (or delete) the browser's cookie for a few runs: a run cut short by the next one may
    never reach the browser, and writing the same cookie again changes nothing."""
    ss = st.session_state
    if _COOKIE_WANTED not in ss:
        return
    wanted = ss[_COOKIE_WANTED]
    days = services.settings.auth_cookie_expiry_days
    attributes = f"path=/; samesite=strict; max-age={int(days * 86400) if wanted else 0}"
    if (st.context.url or "").startswith("https://"):
        attributes += "; secure"
    # a script in a same-origin component frame writes the app's cookie; unlike a component that
    # reports back, it starts no rerun (which could swallow the user's next click)
    components.html(f"<script>document.cookie = {json.dumps(f'{cookie_name}={wanted}; {attributes}')};</script>",
                    height=0)
    ss[_COOKIE_WRITES] = ss.get(_COOKIE_WRITES, 0) + 1
    if ss[_COOKIE_WRITES] >= COOKIE_WRITE_RUNS:
        ss.pop(_COOKIE_WANTED)
        ss.pop(_COOKIE_WRITES)


def log_in(email: str, password: str) -> bool:
    """Check the password through AccountService; on success start the session and its cookie."""
    ss = st.session_state
    services = get_services()
    try:
        login = services.accounts.log_in(email, password.strip(), client_address(services))
    except ClassGPTError as exc:
        ss[LOGIN_ERROR] = str(exc)
        return False
    ss.pop(LOGIN_ERROR, None)
    ss.pop(LOGGED_OUT, None)
    ss[SESSION_KEY] = login.token
    _want_cookie(ss, login.token)
    ss[ACTOR_KEY] = login.user.actor()
    return True


def request_logout() -> None:
    """A button callback: gate() logs out at the start of the next run."""
    st.session_state[_LOGOUT] = True


def register_form(services: Services) -> str | None:
    """The registration form; the account is made by AccountService.register. Returns its email."""
    with st.form("register", clear_on_submit=False):
        st.subheader("Create your account", anchor=False)
        first_col, last_col = st.columns(2)
        first = first_col.text_input("First name (optional)", key="register_first_name", autocomplete="given-name")
        last = last_col.text_input("Last name (optional)", key="register_last_name", autocomplete="family-name")
        email = st.text_input("Email", key="register_email", autocomplete="email")
        password = st.text_input("Password", type="password", key="register_password", autocomplete="new-password")
        repeat = st.text_input("Repeat password", type="password", key="register_repeat", autocomplete="new-password")
        submitted = st.form_submit_button("Create account", type="primary", width="stretch")
    if not submitted:
        return None
    with shown_errors("register"):
        _same(password, repeat)
        # surrounding spaces are a typo more often than part of a password: strip, as log_in does
        user = services.accounts.register(email, password.strip(), f"{first.strip()} {last.strip()}".strip(),
                                          client_address(services))
        return user.email
    return None


def change_password_form(services: Services, actor: Actor) -> bool:
    """The change-password form. Every other session of the account ends; this one goes on."""
    with st.form("change_password", clear_on_submit=True):
        st.subheader("Change password", anchor=False)
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password")
        repeat = st.text_input("Repeat new password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return False
    with shown_errors("change password"):
        _same(new, repeat)
        token = services.accounts.change_password(actor, current.strip(), new.strip(), client_address(services))
        st.session_state[SESSION_KEY] = token
        _want_cookie(st.session_state, token)
        return True
    return False


def log_out_everywhere(services: Services, actor: Actor) -> None:
    services.accounts.log_out_everywhere(actor)
    _forget(st.session_state, "You have been logged out everywhere.")


def delete_account(services: Services, actor: Actor, password: str) -> Deletion:
    report = services.accounts.delete_account(actor, password)
    _forget(st.session_state, "Your account has been deleted.")
    return report


def _same(password: str, repeat: str) -> None:
    if password != repeat:
        raise ValidationError("Passwords do not match: type the same password twice.")
