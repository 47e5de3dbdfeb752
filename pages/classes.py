"""My classes: create one, join one with a code, and (instructors) rename or delete."""
from __future__ import annotations

import streamlit as st

from core.errors import ClassGPTError
from ui.auth import client_address
from ui.safe import block, inline
from ui.state import get_services, page_path, require_actor, select_class
from ui.widgets import delete_with_confirmation, role_badge, show_error, when

ss = st.session_state
actor = require_actor()
services = get_services()
classes_svc = services.classes

st.title("Your classes")

if created := ss.pop("classgpt_created_class", None):
    st.success(f"**{inline(created[0])}** is ready. Share this join code with your students:")
    st.code(created[1], language=None)
if flash := ss.pop("classgpt_classes_flash", None):
    st.success(flash)

create_col, join_col = st.columns(2)
with create_col, st.form("create_class", clear_on_submit=True, border=True):
    st.subheader("Create a class")
    name = st.text_input("Class name", placeholder="e.g. Biology 101", key="new_class_name")
    description = st.text_input("Description (optional)", key="new_class_description")
    if st.form_submit_button("Create class", type="primary", icon=":material/add:"):
        try:
            info = classes_svc.create(actor, name, description)
        except ClassGPTError as exc:
            show_error(exc)
        else:
            select_class(info.id)
            ss["classgpt_created_class"] = (info.name, info.join_code)
            st.rerun()
with join_col, st.form("join_class", clear_on_submit=True, border=True):
    st.subheader("Join a class")
    code = st.text_input("Join code", placeholder="8 letters and digits from your instructor", key="join_code")
    st.caption("Your instructor shares the code in class or on the syllabus.")
    if st.form_submit_button("Join class", icon=":material/group_add:"):
        try:
            info = classes_svc.join(actor, code, client_address(services))
        except ClassGPTError as exc:
            show_error(exc)
        else:
            select_class(info.id)
            ss["classgpt_classes_flash"] = f"You joined **{inline(info.name)}**. Ask away on the Chat page."
            st.rerun()

classes = classes_svc.list_for(actor)
st.divider()
if not classes:
    st.info("You are not in any class yet. **Create a class** if you teach one, or **join** with the code "
            "your instructor gave you.", icon=":material/waving_hand:")
    st.stop()


def open_page(class_id: int, page) -> None:
    select_class(class_id)
    st.switch_page(page)


for klass in classes:
    with st.container(border=True, key=f"class_{klass.id}"):
        title_col, badge_col = st.columns([5, 1], vertical_alignment="center")
        title_col.subheader(inline(klass.name), anchor=False)
        with badge_col:
            role_badge(klass.role)
        if klass.description:
            st.markdown(block(klass.description))
        docs = klass.document_count
        st.caption(f"{docs} document{'s' if docs != 1 else ''} ready · created {when(klass.created_at)}")
        if klass.join_code:
            st.markdown("**Join code** — share it with your students:")
            st.code(klass.join_code, language=None)
        chat_col, docs_col, _ = st.columns(3)
        if chat_col.button("Ask questions", key=f"chat_{klass.id}", icon=":material/chat:", type="primary",
                           width="stretch"):
            open_page(klass.id, page_path("chat"))
        if docs_col.button("Documents", key=f"docs_{klass.id}", icon=":material/description:",
                           width="stretch"):
            open_page(klass.id, page_path("documents"))
        if not klass.can_manage:
            continue
        with st.expander("Manage class", icon=":material/settings:"):
            with st.form(f"rename_{klass.id}", border=False):
                new_name = st.text_input("Name", value=klass.name, key=f"rename_name_{klass.id}")
                new_desc = st.text_input("Description", value=klass.description, key=f"rename_desc_{klass.id}")
                if st.form_submit_button("Save"):
                    try:
                        classes_svc.rename(actor, klass.id, new_name, new_desc)
                    except ClassGPTError as exc:
                        show_error(exc)
                    else:
                        ss["classgpt_classes_flash"] = f"Saved **{inline(new_name)}**."
                        st.rerun()
            st.divider()

            def delete_class(klass=klass) -> None:
                classes_svc.delete(actor, klass.id)
                ss["classgpt_classes_flash"] = f"Deleted **{inline(klass.name)}**."

            delete_with_confirmation(
                str(klass.id), label="Delete class…", on_confirm=delete_class,
                warning=f"Delete **{inline(klass.name)}** with its {docs} document(s) and every student's chat? "
                        "This cannot be undone.")
