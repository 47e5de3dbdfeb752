"""Account: who I am, change my password, log out (here or everywhere), delete my account."""
from __future__ import annotations

import streamlit as st

from core.services.passwords import PASSWORD_RULES
from ui import auth
from ui.safe import inline
from ui.state import PAGE_NOTICE, get_services, require_actor
from ui.widgets import shown_errors

ss = st.session_state
actor = require_actor()
services = get_services()

st.title("Account")
with st.container(border=True):
    st.markdown(f"**{inline(actor.name)}**  \n{inline(actor.email)}")
    if actor.is_admin:
        st.badge("Administrator", color="orange")

if ss.get(PAGE_NOTICE):  # kept while on this page: writing the new cookie reruns it
    st.success(ss[PAGE_NOTICE])
st.caption(f"New passwords: {PASSWORD_RULES}")
if auth.change_password_form(services, actor):
    ss[PAGE_NOTICE] = "Password changed. Every other browser signed in to this account has been logged out."
    st.rerun()

st.divider()
log_out_col, everywhere_col = st.columns(2)
log_out_col.button("Log out", icon=":material/logout:", on_click=auth.request_logout, key="account_logout",
                   width="stretch")
if everywhere_col.button("Log out everywhere", icon=":material/devices:", key="account_logout_everywhere",
                         width="stretch", help="End every session of this account, on every device"):
    auth.log_out_everywhere(services, actor)
    st.rerun()

st.divider()
with st.expander("Delete my account", icon=":material/person_remove:"):
    st.warning("This deletes your account, your chats and your enrollments. A class you teach stays with its "
               "other instructors; one you teach alone stays, private to the administrators, until they give it "
               "a new instructor.")
    with st.form("delete_account", clear_on_submit=True, border=False):
        password = st.text_input("Your password", type="password", autocomplete="current-password",
                                 key="delete_account_password")
        confirmed = st.checkbox("I understand that this cannot be undone", key="delete_account_confirm")
        submitted = st.form_submit_button("Delete my account", type="primary")
    if submitted:
        if not confirmed:
            st.error("Tick the box to confirm that you want your account deleted.")
        else:
            with shown_errors("delete account"):
                auth.delete_account(services, actor, password)
                st.rerun()
