"""Log in or create an account: the only page a logged-out session has."""
from __future__ import annotations

import streamlit as st

from core.services.passwords import PASSWORD_RULES
from ui import auth
from ui.safe import inline
from ui.state import get_services, through_app

through_app()  # the first visitor of a fresh server at /login: through app.py's gate
ss = st.session_state
services = get_services()

# set before the widgets exist: after a registration, show the login form with the email filled in
if registered := ss.pop("classgpt_registered", None):
    ss["auth_mode"] = "Log in"
    ss["login_email"] = registered

st.title(":material/school: ClassGPT", anchor=False)
st.markdown("Ask questions about your course material and get answers that cite the **document and page** "
            "they come from.")

ss.setdefault("auth_mode", "Log in")
mode = st.segmented_control("What would you like to do?", ["Log in", "Create account"], key="auth_mode",
                            required=True, label_visibility="collapsed")

if mode == "Create account":
    st.caption(f"Passwords: {PASSWORD_RULES}")
    email = auth.register_form(services)
    if email:
        ss["classgpt_registered"] = email
        ss["classgpt_flash"] = f"Account created for {inline(email)}. Log in to continue."
        st.rerun()
else:
    if flash := ss.pop("classgpt_flash", None):
        st.success(flash)
    if why := ss.get(auth.LOGGED_OUT):  # stays until the next login: the cookie's component reruns the page
        st.info(why, icon=":material/logout:")
    with st.form("login"):
        st.subheader("Log in")
        st.text_input("Email", key="login_email", autocomplete="email", placeholder="you@school.edu")
        st.text_input("Password", key="login_password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary", width="stretch")
    if submitted:
        if auth.log_in(ss.get("login_email", ""), ss.get("login_password", "")):
            st.rerun()  # the gate now lists the app's pages; the cookie is set on that run
        st.error(inline(ss.get(auth.LOGIN_ERROR, "Wrong email or password.")), icon=":material/error:")
    st.caption("New here? Choose **Create account** above.")
