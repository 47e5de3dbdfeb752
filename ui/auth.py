"""The login gate: streamlit-authenticator for the session and the signed re-login cookie; every
account change (register, log in, change password) goes through AccountService.

Who owns what (docs/app.md explains why):
- AccountService owns the rules and the `users` table: password strength, the check at login
  (lockout after repeated failures, equal timing for unknown emails), the events;
- streamlit-authenticator owns the session keys (authentication_status, username, name), the
  signed re-login cookie and logout; the credentials dict it reads is built from `users`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from core.errors import ClassGPTError, NotFound, ValidationError
from core.events import log_event
from core.services.accounts import MIN_PASSWORD_LEN
from ui.state import ACTOR_KEY, get_services

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor

AUTH_KEY = "classgpt_authenticator"
_SET_COOKIE = "classgpt_set_cookie"
_LOGOUT = "classgpt_logout_requested"
LOGIN_ERROR = "classgpt_login_error"
PASSWORD_RULES = (f"At least {MIN_PASSWORD_LEN} characters, mixing letters with digits or symbols; "
                  "not a common password and not the part of your email before the @.")


def credentials(services: Services, email: str | None = None) -> dict:
    """The authenticator's credentials dict from `users`: everyone, or just the signed-in user."""
    if email:
        try:
            users = [services.accounts.by_email(email)]
        except NotFound:
            users = []
    else:
        users = services.accounts.all_users()
    return {"usernames": {u.email: {"email": u.email, "first_name": u.name, "last_name": "", "name": u.name,
                                    "password": u.password_hash, "roles": ["admin"] if u.is_admin else []}
                          for u in users}}


def _authenticator(services: Services) -> stauth.Authenticate:
    ss = st.session_state
    signed_in = ss.get("username") if ss.get("authentication_status") else None
    settings = services.settings
    return stauth.Authenticate(
        credentials(services, signed_in),
        settings.auth_cookie_name,
        settings.auth_cookie_key,  # Settings.check() refuses a placeholder in production
        settings.auth_cookie_expiry_days,
        auto_hash=False,  # every stored password is already a bcrypt hash
        login_sleep_time=0,  # the 0.7 s default would delay every logged-out page view
    )


def gate(services: Services) -> Actor | None:
    """Run the authenticator for this script run; return the signed-in actor, or None."""
    ss = st.session_state
    auth = _authenticator(services)  # renders the (invisible) cookie manager component
    ss[AUTH_KEY] = auth
    if ss.pop(_LOGOUT, False) and ss.get("authentication_status"):
        email = ss.get("username")
        auth.logout(location="unrendered")  # clears the session keys and deletes the cookie
        ss.pop(ACTOR_KEY, None)
        log_event("logout", user=email)
        return None
    if ss.pop(_SET_COOKIE, False) and ss.get("authentication_status"):
        auth.cookie_controller.set_cookie()
    if not ss.get("authentication_status"):
        try:
            auth.login(location="unrendered")  # a valid, signed, unexpired cookie logs back in
        except LoginError:  # the cookie names a user who no longer exists
            auth.cookie_controller.delete_cookie()
        if ss.get("authentication_status"):
            log_event("login", user=ss.get("username"), method="cookie")
    if not ss.get("authentication_status"):
        ss.pop(ACTOR_KEY, None)
        if ss.get("logout") and services.settings.auth_cookie_name in _browser_cookies(auth):
            # logged out, but the browser still reports the cookie (the deletion was cut short by
            # a rerun): ask again, so a reload cannot sign the user back in
            auth.cookie_controller.delete_cookie()
        return None
    try:
        actor = services.accounts.by_email(ss["username"]).actor()  # fresh: admin rights may change
    except NotFound:
        auth.logout(location="unrendered")
        ss.pop(ACTOR_KEY, None)
        return None
    ss[ACTOR_KEY] = actor
    return actor


def _browser_cookies(auth: stauth.Authenticate) -> dict:
    """The cookies the browser reported to the authenticator's cookie component ({} at first)."""
    return auth.cookie_controller.cookie_model.cookie_manager.cookies or {}


def log_in(email: str, password: str) -> bool:
    """Check the password through AccountService; on success start the session and the cookie."""
    ss = st.session_state
    try:
        info = get_services().accounts.authenticate(email, password.strip())
    except ClassGPTError as exc:
        ss[LOGIN_ERROR] = str(exc)
        ss["authentication_status"] = False
        return False
    ss.pop(LOGIN_ERROR, None)
    ss.update({"authentication_status": True, "username": info.email, "name": info.name,
               "email": info.email, "roles": ["admin"] if info.is_admin else [], "logout": None})
    ss[_SET_COOKIE] = True  # gate() sets it on the next run, where the cookie component renders
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
    try:
        _same(password, repeat)
        # surrounding spaces are a typo more often than part of a password: strip, as log_in does
        user = services.accounts.register(email, password.strip(), f"{first.strip()} {last.strip()}".strip())
    except ClassGPTError as exc:
        st.error(str(exc))
        return None
    return user.email


def change_password_form(services: Services, actor: Actor) -> bool:
    """The change-password form, checked and written by AccountService.change_password."""
    with st.form("change_password", clear_on_submit=True):
        st.subheader("Change password", anchor=False)
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password")
        repeat = st.text_input("Repeat new password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return False
    try:
        _same(new, repeat)
        services.accounts.change_password(actor, current.strip(), new.strip())
    except ClassGPTError as exc:
        st.error(str(exc))
        return False
    return True


def _same(password: str, repeat: str) -> None:
    if password != repeat:
        raise ValidationError("Passwords do not match: type the same password twice.")
