"""Checked answers in the app: one question's card on the Checks page, and the Documents page's
warning about checked questions that stopped being answered (core/services/gold.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from ui.safe import inline
from ui.state import get_services, page_path
from ui.widgets import delete_with_confirmation, page_count, when

if TYPE_CHECKING:
    from core.services.actors import Actor
    from core.services.classes import ClassInfo
    from core.services.gold import GoldInfo

STATUS_LABELS = {
    "first": ":green[:material/check_circle: Cited first]",
    "top5": ":orange[:material/check: In the top 5]",
    "missed": ":red[:material/cancel: Missed]",
    None: ":gray[:material/schedule: Not run yet]",
}
STUDENT_VIEW = ("Each question is asked as a **student** of the class sees it: instructors-only and unreleased "
                "documents are left out, so a question only the answer key answers shows as missed. "
                "The checks run again after every upload and delete.")


def document_choice(doc) -> str:
    """A document in the form's select box: its name and how many pages (a deck's: slides) it has."""
    return f"{doc.filename} ({page_count(doc.filename, doc.page_count)})" if doc.page_count else doc.filename


def gold_flags(actor: Actor, klass: ClassInfo) -> None:
    """For the class's instructors: a warning listing the checked questions that stopped being
    answered, with a link to the Checks page; nothing when there are none (or for students)."""
    if not klass.can_manage:
        return
    stopped = [q for q in get_services().gold.list(actor, klass.id) if q.stopped]
    if not stopped:
        return
    n = len(stopped)
    lines = "\n".join(f"- “{inline(q.question)}”: expects {inline(q.expected)}" for q in stopped)
    st.warning(f"**{n} checked question{'s' if n != 1 else ''} stopped being answered** on the page you "
               f"gave, as students see the class:\n\n{lines}", icon=":material/fact_check:")
    st.page_link(page_path("checks"), label="Open Checked answers", icon=":material/arrow_forward:")


def cited_line(q: GoldInfo) -> str:
    """What a student's answer cited, in one line of Markdown."""
    if q.status is None:
        return ":gray[Run the checks to see what a student's answer cites.]"
    if not q.cited:
        return "Nothing cited: a student is told the material does not cover it."
    rest = f" · then {', '.join(inline(c.label) for c in q.cited[1:])}" if len(q.cited) > 1 else ""
    return f"Cited first: **{inline(q.cited[0].label)}**{rest}"


def question_card(actor: Actor, q: GoldInfo, on_deleted: Callable[[GoldInfo], None]) -> None:
    """One checked question: what it expects, its last result, what was cited, a delete button."""
    with st.container(border=True):
        text_col, delete_col = st.columns([12, 1], vertical_alignment="top")
        text_col.markdown(f"**{inline(q.question)}**  \n:gray[Expects {inline(q.expected)}]")
        status = STATUS_LABELS.get(q.status, q.status)
        if q.stopped:
            status += " · :red[stopped being answered]"
        ran = f" · :gray[{when(q.ran_at)}]" if q.ran_at else ""
        text_col.markdown(f"{status}{ran}  \n{cited_line(q)}")

        def delete() -> None:
            get_services().gold.delete(actor, q.id)
            on_deleted(q)

        delete_with_confirmation(f"gold_{q.id}", place=delete_col, help="Delete this checked question",
                                 on_confirm=delete, warning=f"Delete the checked question “{inline(q.question)}”?")
