"""The Insights page (AppTest): the instructor sees a student's unanswered question, learns who asked
only by clicking, and downloads the CSV; a student has no Insights page and no insights."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.models import QueryLog
from tests.app_support import app_env, logged_in, page, setup, svc, texts  # noqa: F401
from tests.factories import make_pdf, upload

NOTES = make_pdf([
    "Photosynthesis turns light energy into chemical energy in plants.",
    "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars.",
])
MISSING = "What is word2vec?"
COVERED = "Where does the Calvin cycle take place?"


def log_ids(svc) -> list[int]:
    with svc.db.transaction() as s:
        return s.scalars(select(QueryLog.id).where(QueryLog.question == MISSING)).all()


def test_instructor_sees_the_unanswered_question_and_who_asked_only_after_a_click(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    svc.chat.ask(stu, klass.id, COVERED)
    svc.chat.ask(stu, klass.id, MISSING)
    at = logged_in(app_env, "prof@example.edu", page_name="insights")
    assert not at.exception and not at.error
    assert at.title[0].value == "Insights"
    assert {m.label: m.value for m in at.metric} == {"Questions": "2", "Not covered": "1",
                                                    "Answered weakly": str(svc.insights.overview(prof, klass.id).weak),
                                                    "Unhelpful votes": "0"}
    shown = texts(at)
    assert MISSING in shown and "not covered" in shown
    assert not re.search(r"\bStu\b", shown) and "stu@example.edu" not in shown and "Asked by" not in shown
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # questions per day
    assert any(d.value["Document"].tolist() == ["bio.pdf"] for d in at.dataframe)  # pages cited most
    [download] = at.get("download_button")
    assert download.proto.label == "Download questions (CSV)"

    [log_id] = log_ids(svc)
    at = at.button(key=f"who_asked_{log_id}").click().run()
    assert not at.exception and not at.error
    assert "Asked by **Stu** (stu@example.edu)" in texts(at)


def test_the_page_says_what_will_appear_when_there_is_nothing_yet(app_env, svc, setup):
    prof, stu, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="insights")
    assert not at.exception
    shown = texts(at)
    assert "No questions in this window yet" in shown
    assert "Every question in this window was answered" in shown
    assert "No answer was marked unhelpful" in shown and "No answer cited the material" in shown
    assert at.get("download_button")  # the header alone: still a valid file


def test_unhelpful_answers_are_shown_without_names(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    answer = svc.chat.ask(stu, klass.id, COVERED)
    svc.feedback.rate(stu, answer.message_id, False)
    at = logged_in(app_env, "prof@example.edu", page_name="insights")
    shown = texts(at)
    assert COVERED in shown and "Sources: bio.pdf, p. 2" in shown and not re.search(r"\bStu\b", shown)
    assert {m.label: m.value for m in at.metric}["Unhelpful votes"] == "1"


def test_a_student_has_no_insights_page(app_env, svc, setup):
    prof, stu, klass = setup
    svc.chat.ask(stu, klass.id, MISSING)
    at = logged_in(app_env, "stu@example.edu")
    with pytest.raises(ValueError):  # not among the session's pages: its address shows a stand-in
        at.switch_page(page("insights"))


def test_insights_of_a_class_one_only_attends_are_refused(app_env, svc, setup):
    """A student of Biology who teaches a class of their own has the page, not Biology's insights."""
    prof, stu, klass = setup
    svc.chat.ask(stu, klass.id, MISSING)
    svc.classes.create(stu, "Stu's own class")
    at = logged_in(app_env, "stu@example.edu", page_name="insights")
    at = at.selectbox(key="class_picker").set_value(klass.id).run()
    assert not at.exception
    assert "Insights are for a class's instructors" in texts(at)
    assert MISSING not in texts(at) and not at.metric and not at.get("download_button")
