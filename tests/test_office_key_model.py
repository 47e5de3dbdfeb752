"""The held-out check's shape, with the real model: a generated lecture deck and a Word answer key
holding invented facts (nothing the model could know). A student asking about the key's content
gets nothing from it; the instructor gets it cited; the deck is cited by slide number."""
from __future__ import annotations

import pytest

from core.config import Settings
from core.services import build_services
from tests.factories import make_docx, make_pptx, upload

pytestmark = pytest.mark.model

DECK = [
    ("Lecture 7: The Quenlow reactor", ["The Quenlow reactor was designed by Imelda Fenwright in 2031.",
                                        "It turns brine into lithium salts without heat."]),
    ("Cooling the reactor", ["The Quenlow reactor is cooled by liquid vantrel circulating at 40 litres "
                             "per minute.", "Vantrel boils at 12 degrees, so the pumps never stop."]),
    ("Safety badges", ["Operators wear a dosimeter badge that turns violet after three hours near the core.",
                       "A violet badge means the operator leaves the hall at once."]),
]
KEY = [
    ("Answers to problem set 7", [
        "Question 4: the containment field of the Quenlow reactor collapses when the hexaflux ratio "
        "exceeds 7.3.",
        "Question 5: full marks need the hexaflux ratio and the name of the Brandel stabiliser."]),
]
KEY_QUESTIONS = ["At what hexaflux ratio does the containment field collapse?",
                 "What is the Brandel stabiliser?", "What are the answers to problem set 7?"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    svc = build_services(Settings(data_dir=tmp_path_factory.mktemp("quenlow"), embedder="minilm"), migrate=True)
    prof = svc.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
    student = svc.accounts.register("student@example.edu", "battery-staple-7", "Stu").actor()
    klass = svc.classes.create(prof, "Reactor engineering")
    svc.classes.join(student, klass.join_code)
    deck = upload(svc, prof, klass.id, "lecture7.pptx", make_pptx(DECK))
    key = upload(svc, prof, klass.id, "answer-key.docx", make_docx(KEY), instructors_only=True)
    assert deck.ok and key.ok
    yield svc, prof, student, klass.id, deck.document_id, key.document_id
    svc.db.engine.dispose()


def test_the_deck_is_cited_by_slide_number(course):
    svc, _, student, class_id, deck_id, _ = course
    answer = svc.chat.ask(student, class_id, "How is the Quenlow reactor cooled?")
    assert answer.found and "vantrel" in answer.text.lower(), answer.text
    first = answer.citations[0]
    assert (first.document_id, first.page) == (deck_id, 2)
    assert first.label == "lecture7.pptx, slide 2 \u00b7 Cooling the reactor", first.label


def test_a_student_gets_nothing_from_the_answer_key(course):
    svc, _, student, class_id, _, key_id = course
    for question in KEY_QUESTIONS:
        answer = svc.chat.ask(student, class_id, question)
        shown = " ".join([answer.text] + [c.text for c in answer.citations + answer.related])
        assert "7.3" not in shown and "problem set" not in shown.replace(question, ""), (question, answer.text)
        assert key_id not in {c.document_id for c in answer.citations + answer.related}, question
    assert [d.filename for d in svc.documents.list(student, class_id)] == ["lecture7.pptx"]


def test_the_instructor_gets_the_answer_key_cited(course):
    svc, prof, _, class_id, _, key_id = course
    answer = svc.chat.ask(prof, class_id, KEY_QUESTIONS[0])
    assert answer.found and answer.citations[0].document_id == key_id, answer.text
    assert "7.3" in answer.text
    assert "Answers to problem set 7" in answer.citations[0].label
