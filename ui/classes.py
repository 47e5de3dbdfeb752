"""The Classes page's parts: create and join forms, a card per class, and (instructors) its roster
with the join code's rotation."""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui.auth import client_address
from ui.join import join_link
from ui.safe import block, inline
from ui.state import page_path, select_class
from ui.widgets import delete_with_confirmation, role_badge, shown_errors, when, with_confirmation

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor
    from core.services.classes import ClassInfo

CREATED = "classgpt_created_class"  # (name, join code) of the class just created, shown once
FLASH = "classgpt_classes_flash"  # what the last action on the page came to, shown once
ROSTER_WIDTHS = [3, 4, 3, 3, 1]


def create_form(services: Services, actor: Actor, heading: bool) -> None:
    with st.form("create_class", clear_on_submit=True, border=True):
        if heading:
            st.subheader("Create a class")
        name = st.text_input("Class name", placeholder="e.g. Biology 101", key="new_class_name")
        description = st.text_input("Description (optional)", key="new_class_description")
        if st.form_submit_button("Create class", type="primary", icon=":material/add:"):
            with shown_errors("create class"):
                info = services.classes.create(actor, name, description)
                select_class(info.id)
                st.session_state[CREATED] = (info.name, info.join_code)
                st.rerun()


def join_form(services: Services, actor: Actor, heading: str) -> None:
    with st.form("join_class", clear_on_submit=True, border=True):
        st.subheader(heading)
        code = st.text_input("Join code", placeholder="8 letters and digits from your instructor", key="join_code")
        st.caption("Your instructor shares the code (or a join link) in class or on the syllabus.")
        if st.form_submit_button("Join class", icon=":material/group_add:"):
            with shown_errors("join class"):
                info = services.classes.join(actor, code, client_address(services))
                select_class(info.id)
                st.session_state[FLASH] = f"You joined **{inline(info.name)}**. Ask away on the Chat page."
                st.rerun()


def class_card(services: Services, actor: Actor, klass: ClassInfo) -> None:
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
            _open(klass.id, "chat")
        if docs_col.button("Documents", key=f"docs_{klass.id}", icon=":material/description:", width="stretch"):
            _open(klass.id, "documents")
        if not klass.can_manage:
            return
        with st.expander("Manage class", icon=":material/settings:"):
            _manage(services, actor, klass)
        with st.expander("Roster and join code", icon=":material/groups:"):
            _roster(services, actor, klass)


def _open(class_id: int, page: str) -> None:
    select_class(class_id)
    st.switch_page(page_path(page))


def _manage(services: Services, actor: Actor, klass: ClassInfo) -> None:
    """Rename, or delete the class."""
    with st.form(f"rename_{klass.id}", border=False):
        new_name = st.text_input("Name", value=klass.name, key=f"rename_name_{klass.id}")
        new_desc = st.text_input("Description", value=klass.description, key=f"rename_desc_{klass.id}")
        if st.form_submit_button("Save"):
            with shown_errors("rename class"):
                services.classes.rename(actor, klass.id, new_name, new_desc)
                st.session_state[FLASH] = f"Saved **{inline(new_name)}**."
                st.rerun()
    st.divider()

    def delete_class() -> None:
        services.classes.delete(actor, klass.id)
        st.session_state[FLASH] = f"Deleted **{inline(klass.name)}**."

    delete_with_confirmation(
        str(klass.id), label="Delete class…", on_confirm=delete_class,
        warning=f"Delete **{inline(klass.name)}** with its {klass.document_count} document(s) and every student's "
                "chat? This cannot be undone.")


def _roster(services: Services, actor: Actor, klass: ClassInfo) -> None:
    """The class's members with a remove button per student, a co-instructor form, the code's rotation."""
    classes = services.classes
    members = classes.roster(actor, klass.id)
    for column, title in zip(st.columns(ROSTER_WIDTHS), ("Name", "Email", "Joined", "Last question")):
        column.markdown(f"**{title}**")
    for m in members:
        name_col, email_col, joined_col, asked_col, remove_col = st.columns(ROSTER_WIDTHS, vertical_alignment="center")
        name_col.markdown(inline(m.name or "—") + (" · *instructor*" if m.role == "instructor" else ""))
        email_col.markdown(inline(m.email))
        joined_col.caption(when(m.joined))
        asked_col.caption(when(m.last_question) or "never")
        if m.role != "student":
            continue

        def remove(m=m) -> None:
            classes.remove_member(actor, klass.id, m.user_id)
            st.session_state[FLASH] = f"Removed **{inline(m.label)}** from **{inline(klass.name)}**."

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
            with shown_errors("add instructor"):
                classes.add_instructor(actor, klass.id, email)
                st.session_state[FLASH] = f"**{inline(email.strip())}** now teaches **{inline(klass.name)}**."
                st.rerun()
    st.divider()

    def rotate() -> None:
        code = classes.rotate_join_code(actor, klass.id)
        st.session_state[FLASH] = (f"New join code for **{inline(klass.name)}**: `{code}`. The old code and "
                                   "link no longer work.")

    with_confirmation(
        str(klass.id), action="rotate", yes="Yes, rotate", label="Rotate the join code",
        icon=":material/autorenew:", on_confirm=rotate,
        warning=f"Give **{inline(klass.name)}** a new join code? The current code and link stop working at once "
                "(students already in the class stay); share the new one.")
