"""The login gate: streamlit-authenticator for the session, the cookie, registration and
password reset, kept in step with the `users` table.

Who owns what (docs/app.md explains why):
- the password check at login is AccountService.authenticate (lockout after repeated
  failures, equal timing for unknown emails, the "login" event, the same path as the CLI);
- streamlit-authenticator owns the session keys (authentication_status, username, name),
  the signed re-login cookie, logout, and the register / reset-password forms;
- the credentials dict it reads is built from `users` on every run, and every change its
  forms make (a new user, a new password hash) is written back to `users` at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import bcrypt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import CredentialsError, LoginError, RegisterError, ResetError

from core.errors import ClassGPTError, NotFound, ValidationError
from core.events import log_event
from core.services.accounts import MIN_PASSWORD_LEN, check_password_strength, normalize_email
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


class ClassGPTValidator(stauth.Validator):
    """The authenticator's form checks, replaced by ClassGPT's own rules (one set of rules)."""

    def validate_password(self, password: str) -> bool:
        try:
            check_password_strength(password)
        except ValidationError:
            return False
        return True

    def diagnose_password(self, password: str) -> str:
        try:
            check_password_strength(password)
        except ValidationError as exc:
            return str(exc)
        return ""

    def validate_email(self, email: str) -> bool:
        try:
            normalize_email(email)
        except ValidationError:
            return False
        return True

    def validate_username(self, username: str) -> bool:  # the username is the email
        return self.validate_email(username)

    def validate_name(self, name: str) -> bool:
        # names are optional (the email's local part stands in) and any script is welcome
        return len(name) <= 100 and name.isprintable()


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
        validator=ClassGPTValidator(),
        auto_hash=False,  # every stored password is already a bcrypt hash
        login_sleep_time=0,  # the 0.7 s default would delay every logged-out page view
        password_instructions=PASSWORD_RULES,
    )


def authenticator() -> stauth.Authenticate:
    """This run's authenticator (built by gate())."""
    return st.session_state[AUTH_KEY]


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
        # the authenticator strips passwords when it registers or resets them; do the same here
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
    """The authenticator's registration form; a new account is written to `users`. Returns its email."""
    auth = authenticator()
    try:
        email, username, name = auth.register_user(
            location="main", merge_username_email=True, captcha=False, password_hint=False, key="register",
            fields={"Form name": "Create your account", "First name": "First name (optional)",
                    "Last name": "Last name (optional)", "Email": "Email", "Password": "Password",
                    "Repeat password": "Repeat password", "Register": "Create account"})
    except (RegisterError, LoginError) as exc:
        message = str(exc).replace("**Password must:**", "").strip()
        if "already taken" in message:
            message = "An account for this email already exists. Log in instead."
        st.error(message or "Check the form and try again.")
        return None
    if not email:
        return None
    entry = auth.authentication_controller.authentication_model.credentials["usernames"].pop(username)
    password_hash = entry["password"]
    try:
        email = normalize_email(email)
        # the one strength rule the form's validator cannot see: the password is the email's local part
        if bcrypt.checkpw(email.split("@")[0].encode(), password_hash.encode()):
            raise ValidationError("Password too weak: it matches your email.")
        services.accounts.register_hashed(email, password_hash, name.strip())
    except ClassGPTError as exc:
        st.error(str(exc))
        return None
    return email


def reset_password_form(services: Services, actor: Actor) -> bool:
    """The authenticator's change-password form; the new hash is written to `users`."""
    auth = authenticator()
    try:
        changed = auth.reset_password(
            actor.email, location="main", key="reset_password", clear_on_submit=True,
            fields={"Form name": "Change password", "Current password": "Current password",
                    "New password": "New password", "Repeat password": "Repeat new password",
                    "Reset": "Change password"})
    except CredentialsError:
        st.error("The current password is wrong.")
        return False
    except ResetError as exc:
        st.error(str(exc).replace("**Password must:**", "").strip())
        return False
    if not changed:
        return False
    new_hash = auth.authentication_controller.authentication_model.credentials["usernames"][actor.email]["password"]
    services.accounts.set_password_hash(actor.user_id, new_hash)
    log_event("password_changed", user=actor.email)
    return True
