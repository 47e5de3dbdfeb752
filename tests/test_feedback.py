"""Feedback on answers: one vote per answer and user, a copy of what was asked and answered, only
on one's own answers, and shown to the class's instructors without naming anyone."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import delete, select

from core.errors import NotFound, PermissionDenied
from core.models import AnswerFeedback, Enrollment
from core.services.actors import SYSTEM
from core.services.feedback import FeedbackInfo, FeedbackService
from tests.factories import make_pdf, upload

LECTURE = [
    "Lecture 3: Cell biology. The cell membrane is a lipid bilayer that controls what enters the cell.",
    "Mitochondria produce ATP through cellular respiration. They have their own DNA.",
]
QUESTION = "What do mitochondria produce?"


@pytest.fixture
def klass(services, instructor, student):
    info = services.classes.create(instructor, "Biology")
    assert upload(services, instructor, info.id, "lecture3.pdf", make_pdf(LECTURE)).ok
    services.classes.join(student, info.join_code)
    return info


def ask(services, actor, class_id, question=QUESTION):
    """Ask, and return the stored question and answer messages."""
    services.chat.ask(actor, class_id, question)
    *_, q, a = services.chat.history(actor, class_id)
    assert (q.role, a.role) == ("user", "assistant")
    return q, a


def rows(services) -> list[AnswerFeedback]:
    with services.db.transaction() as s:
        return s.scalars(select(AnswerFeedback).order_by(AnswerFeedback.id)).all()


def test_rating_again_changes_the_one_vote(services, student, klass):
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, True)
    assert services.feedback.votes(student, klass.id) == {answer.id: True}
    services.feedback.rate(student, answer.id, False)
    [row] = rows(services)
    assert row.helpful is False and row.message_id == answer.id and row.user_id == student.user_id
    assert services.feedback.votes(student, klass.id) == {answer.id: False}


def test_withdrawing_a_vote_removes_it(services, student, klass):
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, None)  # nothing to withdraw: no error
    services.feedback.rate(student, answer.id, False)
    services.feedback.rate(student, answer.id, None)
    assert rows(services) == [] and services.feedback.votes(student, klass.id) == {}


def test_the_question_answer_and_sources_are_copied(services, student, klass):
    ask(services, student, klass.id, "What is the cell membrane?")
    question, answer = ask(services, student, klass.id)
    assert answer.citations
    services.feedback.rate(student, answer.id, False)
    [row] = rows(services)
    assert row.class_id == klass.id
    assert row.question == QUESTION == question.content  # the question just before, not the first one
    assert row.answer == answer.content
    assert row.sources == [{"n": c.n, "document_id": c.document_id, "document": c.document, "page": c.page,
                            "page_label": c.page_label} for c in answer.citations]
    assert row.sources[0]["document"] == "lecture3.pdf" and row.sources[0]["page"] == 2


def test_each_answer_and_each_user_has_its_own_vote(services, instructor, student, klass):
    _, first = ask(services, student, klass.id)
    _, second = ask(services, student, klass.id, "What is the cell membrane?")
    _, profs = ask(services, instructor, klass.id)
    services.feedback.rate(student, first.id, True)
    services.feedback.rate(student, second.id, False)
    services.feedback.rate(instructor, profs.id, True)
    assert services.feedback.votes(student, klass.id) == {first.id: True, second.id: False}
    assert services.feedback.votes(instructor, klass.id) == {profs.id: True}


def test_someone_elses_answer_cannot_be_rated_and_is_not_revealed(services, instructor, student, klass):
    _, profs = ask(services, instructor, klass.id)
    with pytest.raises(NotFound) as other:
        services.feedback.rate(student, profs.id, False)
    with pytest.raises(NotFound) as missing:
        services.feedback.rate(student, profs.id + 1000, False)
    assert str(other.value) == str(missing.value)  # the same reply whether it exists or not
    with pytest.raises(PermissionDenied, match="Log in"):
        services.feedback.rate(SYSTEM, profs.id, False)
    assert rows(services) == []


def test_a_question_cannot_be_rated(services, student, klass):
    question, _ = ask(services, student, klass.id)
    with pytest.raises(NotFound, match="Only answers"):
        services.feedback.rate(student, question.id, True)
    assert rows(services) == []


def test_a_student_removed_from_the_class_cannot_rate(services, student, klass):
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, True)
    with services.db.transaction() as s:
        s.execute(delete(Enrollment).where(Enrollment.class_id == klass.id, Enrollment.user_id == student.user_id))
    with pytest.raises(PermissionDenied, match="not enrolled"):
        services.feedback.rate(student, answer.id, False)
    with pytest.raises(PermissionDenied):
        services.feedback.votes(student, klass.id)
    assert [r.helpful for r in rows(services)] == [True]


def test_clearing_the_chat_keeps_the_feedback(services, instructor, student, klass):
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, False)
    services.chat.clear_history(student, klass.id)
    [row] = rows(services)
    assert row.message_id is None and row.user_id == student.user_id and row.answer == answer.content
    assert services.feedback.votes(student, klass.id) == {}  # nothing left on the page to mark
    [info] = services.feedback.for_class(instructor, klass.id)
    assert info.question == QUESTION and info.helpful is False
    with pytest.raises(NotFound):
        services.feedback.rate(student, answer.id, True)  # the answer is gone from the chat


def test_deleting_the_account_keeps_the_feedback_without_the_user(services, instructor, student, klass):
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, False)
    services.accounts.delete_account(student, "battery-staple-7")
    [row] = rows(services)
    assert row.user_id is None and row.message_id is None and row.question == QUESTION
    assert [i.helpful for i in services.feedback.for_class(instructor, klass.id)] == [False]


def test_instructors_see_the_feedback_without_names(services, instructor, student, klass):
    _, first = ask(services, student, klass.id)
    _, second = ask(services, student, klass.id, "What is the cell membrane?")
    services.feedback.rate(student, first.id, True)
    services.feedback.rate(student, second.id, False)
    everything = services.feedback.for_class(instructor, klass.id)
    assert [(i.question, i.helpful) for i in everything] == [("What is the cell membrane?", False),
                                                             (QUESTION, True)]  # newest first
    assert [i.question for i in services.feedback.for_class(instructor, klass.id, helpful=False)] == [
        "What is the cell membrane?"]
    assert len(services.feedback.for_class(instructor, klass.id, limit=1)) == 1
    top = everything[1].sources[0]
    assert (top.document, top.page, top.label) == ("lecture3.pdf", 2, "lecture3.pdf, p. 2")
    # nothing in what an instructor gets says who voted
    assert {f.name for f in dataclasses.fields(FeedbackInfo)} == {
        "id", "helpful", "question", "answer", "sources", "created_at"}
    shown = repr(everything)
    assert "student@example.edu" not in shown and "Stu" not in shown and str(student.user_id) not in shown
    with pytest.raises(PermissionDenied, match="Only an instructor"):
        services.feedback.for_class(student, klass.id)
    assert services.feedback.for_class(SYSTEM, klass.id)  # the operator, like an instructor


def test_a_vote_racing_another_updates_instead_of_failing(services, student, klass, monkeypatch):
    """Two clicks at once: both find no row, one inserts first; the other hits the unique
    constraint, runs again and updates the row."""
    _, answer = ask(services, student, klass.id)
    services.feedback.rate(student, answer.id, True)  # the request that won
    real = FeedbackService._existing
    calls = []

    def blind_first_time(self, s, message_id, user_id):
        calls.append(message_id)
        return None if len(calls) == 1 else real(self, s, message_id, user_id)

    monkeypatch.setattr(FeedbackService, "_existing", blind_first_time)
    services.feedback.rate(student, answer.id, False)
    assert len(calls) == 2
    assert [r.helpful for r in rows(services)] == [False]
