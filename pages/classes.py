"""My classes: join one with a code, create one, and (instructors) the roster, the join link,
rotate the code, rename or delete.

Someone who teaches a class sees "Create a class" beside "Join a class" above the list, as before.
Everyone else (students, and new accounts in no class) sees their classes and the join form
first: creating a class is rarely a student's first action, so it waits in a closed expander.
"""
from __future__ import annotations

import streamlit as st

from ui.classes import CREATED, FLASH, class_card, create_form, join_form
from ui.join import JOIN_ERROR
from ui.safe import inline
from ui.state import get_services, require_actor

ss = st.session_state
actor = require_actor()
services = get_services()

st.title("Your classes")
if created := ss.pop(CREATED, None):
    st.success(f"**{inline(created[0])}** is ready. Share this join code with your students:")
    st.code(created[1], language=None)
if flash := ss.pop(FLASH, None):
    st.success(flash)
if problem := ss.pop(JOIN_ERROR, None):  # a join link whose code did not work
    st.error(inline(problem), icon=":material/error:")

classes = services.classes.list_for(actor)
if any(c.can_manage for c in classes):
    create_col, join_col = st.columns(2)
    with create_col:
        create_form(services, actor, heading=True)
    with join_col:
        join_form(services, actor, "Join a class")
    st.divider()
    for klass in classes:
        class_card(services, actor, klass)
else:
    if not classes:
        st.info("You are not in any class yet. **Join** with the code your instructor gave you, or "
                "**create a class** below if you teach one.", icon=":material/waving_hand:")
    for klass in classes:
        class_card(services, actor, klass)
    join_form(services, actor, "Join with a code")
    with st.expander("Create a class", icon=":material/add:"):
        create_form(services, actor, heading=False)
