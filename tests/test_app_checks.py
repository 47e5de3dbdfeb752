"""Checked answers page (AppTest): add a question, run the checks, see what was cited; bad pages
keep the form; delete; students get nothing of it. The Documents page's flag (ui.gold.gold_flags)
for questions that stopped being answered."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_support import TIMEOUT, app_env, logged_in, page, setup, shown, svc, texts  # noqa: F401
from tests.factories import make_pdf, upload

LECTURE = ["Cell biology. The cell membrane separates the cell from its surroundings.",
           "Mitochondria produce ATP through cellular respiration."]
QUESTION = "What do mitochondria produce?"
TRAP = "![x](tracker.png) :red[alert] $x$?"  # Markdown, a Streamlit directive, LaTeX: shown as typed


def _lecture(svc, prof, klass) -> int:
    result = upload(svc, prof, klass.id, "cells.pdf", make_pdf(LECTURE))
    assert result.ok
    return result.document_id


def _add(at: AppTest, question: str, pages: str) -> AppTest:
    n = at.session_state["classgpt_gold_form"]
    at.text_input(key=f"gold_question_{n}").input(question)
    at.text_input(key=f"gold_pages_{n}").input(pages)
    return next(b for b in at.button if b.label == "Add question").click().run()


def _sources(at: AppTest) -> str:
    """Every Markdown source the page sends to the browser."""
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "success", "error", "warning", "info")
                     for e in getattr(at, kind))


def test_add_a_question_run_it_and_see_what_was_cited(app_env, svc, setup):
    prof, _, klass = setup
    doc_id = _lecture(svc, prof, klass)
    at = logged_in(app_env, "prof@example.edu", page_name="checks")
    assert at.title[0].value == "Checked answers"
    assert "asked as a **student** of the class sees it" in at.caption[0].value  # said on the page
    assert "No checked questions yet" in texts(at)
    assert next(b for b in at.button if b.label == "Run checks").disabled  # nothing to run yet

    at = _add(at, QUESTION, "2")
    assert not at.exception
    assert f"Added “{QUESTION}”" in texts(at)
    (q,) = svc.gold.list(prof, klass.id)
    assert (q.document_id, q.pages, q.status) == (doc_id, (2,), None)
    assert "Not run yet" in texts(at) and at.text_input(key="gold_question_1").value == ""  # a fresh form

    at = next(b for b in at.button if b.label == "Run checks").click().run()
    assert not at.exception
    assert "1 of 1 answered on a right page." in shown(at.success[0].value)
    page_text = texts(at)
    assert "Cited first]" in page_text and "Cited first: **cells.pdf, p. 2**" in page_text
    assert svc.gold.list(prof, klass.id)[0].status == "first"


def test_a_missed_question_shows_what_was_cited_instead(app_env, svc, setup):
    prof, _, klass = setup
    doc_id = _lecture(svc, prof, klass)
    svc.gold.add(prof, klass.id, QUESTION, doc_id, "1")  # the wrong page
    at = logged_in(app_env, "prof@example.edu", page_name="checks")
    at = next(b for b in at.button if b.label == "Run checks").click().run()
    assert "0 of 1 answered on a right page." in shown(at.warning[0].value)
    assert "Missed]" in texts(at) and "Cited first: **cells.pdf, p. 2**" in texts(at)


def test_bad_pages_are_explained_and_the_form_keeps_what_was_typed(app_env, svc, setup):
    prof, _, klass = setup
    _lecture(svc, prof, klass)
    at = logged_in(app_env, "prof@example.edu", page_name="checks")
    at = _add(at, QUESTION, "9")
    assert not at.exception
    assert "cells.pdf has 2 pages; page 9 is not one of them." in shown(at.error[0].value)
    assert at.text_input(key="gold_question_0").value == QUESTION and at.text_input(key="gold_pages_0").value == "9"
    assert svc.gold.list(prof, klass.id) == []


def test_delete_asks_to_confirm(app_env, svc, setup):
    prof, _, klass = setup
    q = svc.gold.add(prof, klass.id, QUESTION, _lecture(svc, prof, klass), "2")
    at = logged_in(app_env, "prof@example.edu", page_name="checks")
    at = at.button(key=f"delete_gold_{q.id}").click().run()
    assert f"Delete the checked question “{QUESTION}”?" in shown(at.warning[0].value)
    assert len(svc.gold.list(prof, klass.id)) == 1
    at = at.button(key=f"delete_yes_gold_{q.id}").click().run()
    assert not at.exception
    assert svc.gold.list(prof, klass.id) == [] and f"Deleted “{QUESTION}”." in texts(at)


def test_a_question_in_markdown_syntax_is_shown_as_text(app_env, svc, setup):
    prof, _, klass = setup
    _lecture(svc, prof, klass)
    at = logged_in(app_env, "prof@example.edu", page_name="checks")
    at = _add(at, TRAP, "")
    assert not at.exception and svc.gold.list(prof, klass.id)[0].question == TRAP
    sources = _sources(at)
    assert TRAP in shown(sources) and "![x](" not in sources and ":red[" not in sources and "$x$" not in sources


def test_students_get_nothing_of_it(app_env, svc, setup):
    prof, stu, klass = setup
    svc.gold.add(prof, klass.id, QUESTION, _lecture(svc, prof, klass), "2")
    at = logged_in(app_env, "stu@example.edu")
    with pytest.raises(ValueError):  # not among the session's pages: its address shows a stand-in
        at.switch_page(page("checks"))
    # an instructor elsewhere reaches the page, but not for a class they only attend
    svc.classes.create(stu, "Stu's own class")
    at = logged_in(app_env, "stu@example.edu", page_name="checks")
    at.selectbox(key="class_picker").select(klass.id).run()
    assert "Checked answers are for the class's instructors." in texts(at)
    assert QUESTION not in texts(at) and not [b for b in at.button if b.label == "Run checks"]


def _flags(actor, klass) -> None:
    """The flag as the Documents page shows it: inside a navigation that has the Checks page."""
    import streamlit as st

    from ui.gold import gold_flags
    from ui.state import page_path

    def documents() -> None:
        gold_flags(actor, klass)

    st.navigation([st.Page(documents, title="Documents", url_path="documents", default=True),
                   st.Page(page_path("checks"), title="Checks", url_path="checks")], position="hidden").run()


def _class_info(svc, actor, class_id):
    return next(c for c in svc.classes.list_for(actor) if c.id == class_id)


def test_documents_page_flag_lists_questions_that_stopped_being_answered(app_env, svc, setup):
    prof, stu, klass = setup
    doc_id = _lecture(svc, prof, klass)
    svc.gold.add(prof, klass.id, QUESTION, doc_id, "2")
    # Markdown that shares the lecture's words, so that it is answered before the delete
    trap = "What do mitochondria produce? ![ATP](cellular.respiration) :red[ATP] $ATP$"
    svc.gold.add(prof, klass.id, trap, doc_id, "2")
    assert all(q.passed for q in svc.gold.run(prof, klass.id))
    info = _class_info(svc, prof, klass.id)
    at = AppTest.from_function(_flags, args=(prof, info), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.warning  # answered (or never answered): nothing to flag

    svc.documents.delete(prof, doc_id)  # the checks run again and lose their page
    at = AppTest.from_function(_flags, args=(prof, info), default_timeout=TIMEOUT).run()
    assert not at.exception
    (warning,) = at.warning
    assert "**2 checked questions stopped being answered**" in warning.value
    assert f"“{QUESTION}”: expects cells.pdf (deleted), p. 2" in shown(warning.value)
    assert trap in shown(warning.value)
    assert "![ATP](" not in warning.value and ":red[" not in warning.value and "$ATP$" not in warning.value
    assert at.get("page_link")[0].proto.page.endswith("checks")

    student_view = _class_info(svc, stu, klass.id)
    at = AppTest.from_function(_flags, args=(stu, student_view), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.warning and not at.get("page_link")


def test_the_documents_page_flags_a_question_that_stopped_being_answered(app_env, svc, setup):
    prof, stu, klass = setup
    doc_id = _lecture(svc, prof, klass)
    other = upload(svc, prof, klass.id, "other.pdf", make_pdf(["Ribosomes build proteins."])).document_id
    svc.gold.add(prof, klass.id, QUESTION, doc_id, "2")
    svc.gold.run(prof, klass.id)
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    assert not any("stopped being answered" in w.value for w in at.warning)

    svc.documents.delete(prof, doc_id)  # the checks run again after a delete (DocumentService listener)
    assert svc.gold.list(prof, klass.id)[0].stopped
    at.run()
    (flag,) = [w.value for w in at.warning if "stopped being answered" in w.value]
    assert f"“{QUESTION}”: expects cells.pdf (deleted), p. 2" in shown(flag)
    assert other  # the class still has material: the flag is about the question, not an empty class
    assert not any("stopped being answered" in w.value
                   for w in logged_in(app_env, "stu@example.edu", page_name="documents").warning)
