"""Checked answers (a class's instructors): questions with the pages that should answer them, run
as a student sees the class; add, delete, run."""
from __future__ import annotations

import streamlit as st

from core.services.gold import MAX_QUESTION_CHARS, GoldInfo
from ui.gold import STUDENT_VIEW, document_choice, question_card
from ui.safe import inline
from ui.state import get_services, page_path, require_actor
from ui.widgets import class_or_stop, shown_errors

ss = st.session_state
NOTICE = "classgpt_gold_notice"
FORM = "classgpt_gold_form"  # a new number after each added question gives the form empty fields
actor = require_actor()
services = get_services()
gold = services.gold

st.title("Checked answers")
klass = class_or_stop(actor, managers_only="Checked answers are for the class's instructors.")
st.caption(STUDENT_VIEW)

questions = gold.list(actor, klass.id)
if st.button("Run checks", type="primary", icon=":material/play_arrow:", disabled=not questions):
    with st.spinner("Asking each question as a student would…"):
        questions = gold.run(actor, klass.id)
    passed = sum(q.passed for q in questions)
    summary = f"{passed} of {len(questions)} answered on a right page."
    (st.success if passed == len(questions) else st.warning)(summary)
elif notice := ss.pop(NOTICE, None):
    st.success(notice)


def deleted(q: GoldInfo) -> None:
    ss[NOTICE] = f"Deleted “{inline(q.question)}”."


st.subheader(f"{inline(klass.name)} · {len(questions)} checked question{'s' if len(questions) != 1 else ''}")
if not questions:
    st.info("No checked questions yet. Add the questions students will ask, with the page that answers "
            "each: you will see at once when an upload or a delete changes their answers.",
            icon=":material/fact_check:")
for q in questions:
    question_card(actor, q, deleted)

st.subheader("Add a checked question")
docs = [d for d in services.documents.list(actor, klass.id) if d.status == "ready" and not d.instructors_only]
if not docs:
    st.info("Upload a document students can see first: a checked question names the page that answers it.")
    st.page_link(page_path("documents"), label="Go to Documents", icon=":material/arrow_forward:")
    st.stop()
by_id = {d.id: d for d in docs}
n = ss.setdefault(FORM, 0)
with st.form(f"gold_add_{n}"):
    question = st.text_input("Question", max_chars=MAX_QUESTION_CHARS, key=f"gold_question_{n}",
                             placeholder="What do mitochondria produce?")
    document = st.selectbox("Document that answers it", list(by_id), key=f"gold_document_{n}",
                            format_func=lambda i: document_choice(by_id[i]))
    pages = st.text_input("Pages", key=f"gold_pages_{n}", placeholder="3 or 3-5, 7",
                          help="As a PDF viewer counts them (1 is the first page), not the printed numbers; "
                               "a deck's slide numbers. Leave empty to accept any page of the document.")
    submitted = st.form_submit_button("Add question", icon=":material/add:")
if submitted:
    with shown_errors("add checked question"):  # on an error the fields keep what was typed, to correct it
        added = gold.add(actor, klass.id, question, document, pages)
        ss[FORM] = n + 1
        ss[NOTICE] = f"Added “{inline(added.question)}”: run the checks to see its result."
        st.rerun()
