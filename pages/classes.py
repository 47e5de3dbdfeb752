"""My classes: join one with a code, create one, and (instructors) the roster, the join link,
rotate the code, rename or delete.

Someone who teaches a class sees "Create a class" beside "Join a class" above the list, as before.
Everyone else (students, and new accounts in no class) sees their classes and the join form
first: creating a class is rarely a student's first action, so it waits in a closed expander.
"""
from __future__ import annotations

import streamlit as st

from core.errors import ClassGPTError
from ui.auth import client_address
from ui.join import JOIN_ERROR, join_link
from ui.safe import block, inline
from ui.state import get_services, page_path, require_actor, select_class
from ui.widgets import delete_with_confirmation, role_badge, show_error, when, with_confirmation

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
if problem := ss.pop(JOIN_ERROR, None):  # a join link whose code did not work
    st.error(inline(problem), icon=":material/error:")

classes = classes_svc.list_for(actor)
teaches = any(c.can_manage for c in classes)


def create_form(heading: bool) -> None:
    with st.form("create_class", clear_on_submit=True, border=True):
        if heading:
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


def join_form(heading: str) -> None:
    with st.form("join_class", clear_on_submit=True, border=True):
        st.subheader(heading)
        code = st.text_input("Join code", placeholder="8 letters and digits from your instructor", key="join_code")
        st.caption("Your instructor shares the code (or a join link) in class or on the syllabus.")
        if st.form_submit_button("Join class", icon=":material/group_add:"):
            try:
                info = classes_svc.join(actor, code, client_address(services))
            except ClassGPTError as exc:
                show_error(exc)
            else:
                select_class(info.id)
                ss["classgpt_classes_flash"] = f"You joined **{inline(info.name)}**. Ask away on the Chat page."
                st.rerun()


def open_page(class_id: int, page) -> None:
    select_class(class_id)
    st.switch_page(page)


def roster(klass) -> None:
    """The class's members with a remove button per student, and the join code's rotation."""
    members = classes_svc.roster(actor, klass.id)
    widths = [3, 4, 3, 3, 1]
    for column, title in zip(st.columns(widths), ("Name", "Email", "Joined", "Last question")):
        column.markdown(f"**{title}**")
    for m in members:
        name_col, email_col, joined_col, asked_col, remove_col = st.columns(widths, vertical_alignment="center")
        name_col.markdown(inline(m.name or "—") + (" · *instructor*" if m.role == "instructor" else ""))
        email_col.markdown(inline(m.email))
        joined_col.caption(when(m.joined))
        asked_col.caption(when(m.last_question) or "never")
        if m.role != "student":
            continue

        def remove(m=m) -> None:
            classes_svc.remove_member(actor, klass.id, m.user_id)
            ss["classgpt_classes_flash"] = f"Removed **{inline(m.label)}** from **{inline(klass.name)}**."

        with_confirmation(
            f"member_{klass.id}_{m.user_id}", place=remove_col, on_confirm=remove, help="Remove from the class",
            yes="Yes, remove", icon=":material/person_remove:",
            warning=f"Remove **{inline(m.label)}** ({inline(m.email)}) from **{inline(klass.name)}**? They lose "
                    "access at once; the join code still lets them back in, so rotate it if they must stay out.")
    if not any(m.role == "student" for m in members):
        st.caption("No students yet: share the join code or the join link.")
    with st.form(f"co_instructor_{klass.id}", clear_on_submit=True, border=False):
        email_col, add_col = st.columns([4, 2], vertical_alignment="bottom")
        email = email_col.text_input("Add a co-instructor", placeholder="colleague@school.edu",
                                     key=f"co_instructor_email_{klass.id}",
                                     help="They need an account first. A co-instructor manages the class as you do.")
        if add_col.form_submit_button("Add instructor", icon=":material/person_add:", width="stretch"):
            try:
                classes_svc.add_instructor(actor, klass.id, email)
            except ClassGPTError as exc:
                show_error(exc)
            else:
                ss["classgpt_classes_flash"] = f"**{inline(email.strip())}** now teaches **{inline(klass.name)}**."
                st.rerun()
    st.divider()

    def rotate() -> None:
        code = classes_svc.rotate_join_code(actor, klass.id)
        ss["classgpt_classes_flash"] = (f"New join code for **{inline(klass.name)}**: `{code}`. The old code and "
                                        "link no longer work.")

    with_confirmation(
        str(klass.id), action="rotate", yes="Yes, rotate", label="Rotate the join code",
        icon=":material/autorenew:", on_confirm=rotate,
        warning=f"Give **{inline(klass.name)}** a new join code? The current code and link stop working at once "
                "(students already in the class stay); share the new one.")


def class_card(klass) -> None:
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
            st.markdown("**Join link** — opens the class for them, after they log in or register:")
            st.code(join_link(klass.join_code), language=None)
        chat_col, docs_col, _ = st.columns(3)
        if chat_col.button("Ask questions", key=f"chat_{klass.id}", icon=":material/chat:", type="primary",
                           width="stretch"):
            open_page(klass.id, page_path("chat"))
        if docs_col.button("Documents", key=f"docs_{klass.id}", icon=":material/description:",
                           width="stretch"):
            open_page(klass.id, page_path("documents"))
        if not klass.can_manage:
            return
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

            def delete_class() -> None:
                classes_svc.delete(actor, klass.id)
                ss["classgpt_classes_flash"] = f"Deleted **{inline(klass.name)}**."

            delete_with_confirmation(
                str(klass.id), label="Delete class…", on_confirm=delete_class,
                warning=f"Delete **{inline(klass.name)}** with its {docs} document(s) and every student's chat? "
                        "This cannot be undone.")
        with st.expander("Roster and join code", icon=":material/groups:"):
            roster(klass)


if teaches:
    create_col, join_col = st.columns(2)
    with create_col:
        create_form(heading=True)
    with join_col:
        join_form("Join a class")
    st.divider()
    for klass in classes:
        class_card(klass)
else:
    if not classes:
        st.info("You are not in any class yet. **Join** with the code your instructor gave you, or "
                "**create a class** below if you teach one.", icon=":material/waving_hand:")
    for klass in classes:
        class_card(klass)
    join_form("Join with a code")
    with st.expander("Create a class", icon=":material/add:"):
        create_form(heading=False)
