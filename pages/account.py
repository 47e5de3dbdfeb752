"""Account: who I am, change my password, log out."""
from __future__ import annotations

import streamlit as st

from ui import auth
from ui.state import get_services, require_actor

actor = require_actor()
services = get_services()

st.title("Account")
with st.container(border=True):
    st.markdown(f"**{actor.name}**  \n{actor.email}")
    if actor.is_admin:
        st.badge("Administrator", color="orange")

if st.session_state.pop("classgpt_password_changed", False):
    st.success("Password changed. Use the new one next time you log in.")
st.caption(f"New passwords: {auth.PASSWORD_RULES}")
if auth.change_password_form(services, actor):
    st.session_state["classgpt_password_changed"] = True
    st.rerun()

st.divider()
st.button("Log out", icon=":material/logout:", on_click=auth.request_logout, key="account_logout")
