"""The Insights page's sections: metrics, questions per day, what the material did not answer,
unhelpful answers and the pages cited most. Students stay unnamed until "Who asked?"."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from ui.safe import inline
from ui.widgets import when

if TYPE_CHECKING:
    from core.services.actors import Actor
    from core.services.feedback import FeedbackInfo
    from core.services.insights import (
        Ask,
        InsightsService,
        MostCited,
        Overview,
        QuestionDetail,
        QuestionGroup,
    )

OPENED_KEY = "insights_opened"  # log id -> QuestionDetail, the questions this session opened
ASKS_SHOWN = 20  # asks listed per group; the count says how many there are
EXCERPT = 300
KIND_LABELS = {"not covered": ":red[:material/help: not covered]", "weak": ":orange[:material/warning: weak]"}


def metrics(overview: Overview) -> None:
    cols = st.columns(4)
    cols[0].metric("Questions", overview.asked)
    cols[1].metric("Not covered", overview.not_covered, help="The material did not answer them.")
    cols[2].metric("Answered weakly", overview.weak,
                   help="Covered only just: the closest material may not really answer them.")
    cols[3].metric("Unhelpful votes", overview.unhelpful, help="Answers students marked with a thumbs down.")


def per_day_chart(overview: Overview) -> None:
    st.subheader("Questions per day")
    if not overview.asked:
        st.caption("No questions in this window yet: they appear here as students ask.")
        return
    frame = pd.DataFrame(
        {"Answered": [d.asked - d.not_covered - d.weak for d in overview.per_day],
         "Answered weakly": [d.weak for d in overview.per_day],
         "Not covered": [d.not_covered for d in overview.per_day]},
        index=pd.Index([d.day.isoformat() for d in overview.per_day], name="Day (UTC)"))
    st.bar_chart(frame, color=["#4c78a8", "#f58518", "#e45756"])


def question_groups(service: InsightsService, actor: Actor, class_id: int, groups: list[QuestionGroup]) -> None:
    st.subheader("Couldn't answer, or answered weakly")
    if not groups:
        st.caption("Every question in this window was answered from the material. Questions it cannot "
                   "answer appear here, grouped when they ask the same thing.")
        return
    st.caption("What to explain again, or which material is missing. Questions that say the same thing are "
               "grouped; nobody is named unless you ask who asked.")
    for g in groups:
        with st.container(border=True):
            st.markdown(f"**{g.count}×** {KIND_LABELS[g.kind]} · {inline(g.representative)}  \n"
                        f":gray[last asked {when(g.last_asked)}]")
            with st.expander(f"{len(g.variants)} wording{'s' if len(g.variants) != 1 else ''}, {g.count} asks"):
                for ask in g.asks[:ASKS_SHOWN]:
                    _ask_row(service, actor, class_id, ask)
                if g.count > ASKS_SHOWN:
                    st.caption(f"and {g.count - ASKS_SHOWN} more (the CSV export lists every question)")


def _ask_row(service: InsightsService, actor: Actor, class_id: int, ask: Ask) -> None:
    opened: dict[int, QuestionDetail] = st.session_state.setdefault(OPENED_KEY, {})
    text_col, button_col = st.columns([4, 1])
    kind = "answered weakly" if ask.weak else "not covered"
    text_col.markdown(f"{inline(ask.question)}  \n:gray[{when(ask.asked_at)} · {kind}]")
    if ask.log_id in opened:
        detail = opened[ask.log_id]
        if detail.asker_email:
            text_col.markdown(f":material/person: Asked by **{inline(detail.asker_name or '')}** "
                              f"({inline(detail.asker_email)})")
        else:
            text_col.caption("The asker is no longer linked to this question (account deleted or chat cleared).")
    elif button_col.button("Who asked?", key=f"who_asked_{ask.log_id}", icon=":material/person_search:"):
        opened[ask.log_id] = service.open_question(actor, class_id, ask.log_id)
        st.rerun()


def unhelpful(votes: list[FeedbackInfo]) -> None:
    st.subheader("Answers marked unhelpful")
    if not votes:
        st.caption("No answer was marked unhelpful in this window. Students mark answers with the thumbs "
                   "under each one.")
        return
    for v in votes:
        with st.container(border=True):
            st.markdown(f"**{inline(v.question)}**  \n:gray[{when(v.created_at)}]")
            excerpt = v.answer if len(v.answer) <= EXCERPT else v.answer[:EXCERPT].rsplit(" ", 1)[0] + " …"
            st.markdown(inline(excerpt))
            if v.sources:
                st.caption("Sources: " + "; ".join(inline(s.label) for s in v.sources))


def most_cited(cited: MostCited) -> None:
    st.subheader("Pages cited most")
    if not cited.pages:
        st.caption("No answer cited the material in this window yet.")
        return
    st.dataframe(pd.DataFrame({
        "Document": [p.cited.document + (" (deleted)" if p.deleted else "") for p in cited.pages],
        "Page": [p.cited.printed_page or "" for p in cited.pages],
        "Answers citing it": [p.count for p in cited.pages],
    }), hide_index=True, width="stretch")
