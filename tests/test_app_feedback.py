"""Thumbs under each answer on the Chat page (AppTest): the vote is stored and shown again."""
from __future__ import annotations

from sqlalchemy import select

from core.models import AnswerFeedback
from tests.app_support import app_env, logged_in, setup, svc  # noqa: F401
from tests.factories import make_pdf, upload
from ui.feedback import THANKS_DOWN, THANKS_UP, WITHDRAWN

NOTES = make_pdf([
    "Photosynthesis turns light energy into chemical energy in plants.",
    "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars.",
])
QUESTION = "Where does the Calvin cycle take place?"


def votes(svc) -> list[tuple[int | None, bool, str]]:
    with svc.db.transaction() as s:
        return [(r.message_id, r.helpful, r.question) for r in s.scalars(select(AnswerFeedback))]


def test_a_student_rates_an_answer_and_sees_the_vote_again(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at.chat_input[0].set_value(QUESTION)
    at = at.run()
    assert not at.exception
    answer = svc.chat.history(stu, klass.id)[-1]
    [thumbs] = at.chat_message[1].get("feedback")  # under the answer, not the question
    assert thumbs.value is None

    at = thumbs.set_value(0).run()  # thumbs down
    assert not at.exception and not at.error
    assert votes(svc) == [(answer.id, False, QUESTION)]
    assert [t.value for t in at.toast] == [THANKS_DOWN]
    assert at.feedback(key=f"feedback_{answer.id}").value == 0

    # a new visit (a reload: a new session) shows the stored vote
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    assert at.feedback(key=f"feedback_{answer.id}").value == 0

    # changing the vote updates the one row
    at = at.feedback(key=f"feedback_{answer.id}").set_value(1).run()
    assert [t.value for t in at.toast] == [THANKS_UP]
    assert votes(svc) == [(answer.id, True, QUESTION)]

    # clicking the chosen thumb again clears it: the vote is withdrawn
    at = at.feedback(key=f"feedback_{answer.id}").set_value(None).run()
    assert [t.value for t in at.toast] == [WITHDRAWN]
    assert votes(svc) == [] and at.feedback(key=f"feedback_{answer.id}").value is None


def test_a_vote_that_cannot_be_stored_says_why(app_env, svc, setup):
    """The answer was cleared in another tab before the click: the page says so, stores nothing."""
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    svc.chat.ask(stu, klass.id, QUESTION)
    answer = svc.chat.history(stu, klass.id)[-1]
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    svc.chat.clear_history(stu, klass.id)
    at = at.feedback(key=f"feedback_{answer.id}").set_value(0).run()
    assert not at.exception
    assert "no such answer of yours" in at.error[0].value
    assert votes(svc) == [] and not at.toast and not at.chat_message
