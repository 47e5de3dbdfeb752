"""Chat page (AppTest): ask, cited answers with the passage and page image, history, empty states."""
from __future__ import annotations

import pytest

from core.services.chat import NOT_FOUND
from tests.app_support import PASSWORD, app_env, logged_in, setup, svc, shown, texts  # noqa: F401
from tests.factories import make_pdf, upload

NOTES = make_pdf([
    "Photosynthesis turns light energy into chemical energy in plants.",
    "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars.",
])



def _ask(at, question):
    at.chat_input[0].set_value(question)
    return at.run()


def test_no_class_yet(app_env, svc):
    svc.accounts.register("new@example.edu", PASSWORD)
    at = logged_in(app_env, "new@example.edu", page_name="chat")
    assert "You are not in a class yet" in shown(at.info[0].value)
    assert not at.chat_input


def test_a_class_without_documents_says_so_plainly(app_env, setup):
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    assert "This class has no documents yet" in shown(at.info[0].value)
    assert at.chat_input[0].disabled


def test_an_answer_cites_document_and_page_with_passage_and_picture(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at = _ask(at, "Where does the Calvin cycle take place?")
    assert not at.exception
    user, assistant = at.chat_message
    assert user.name == "user" and assistant.name == "assistant"
    assert "[1]" in shown(assistant.markdown[0].value)
    first = at.expander[0]
    assert shown(first.label) == "[1] bio.pdf, p. 2"
    assert "stroma of the chloroplast" in shown(first.markdown[0].value)
    # the newest answer's first source shows a picture of its page at once
    [image] = first.get("image")
    assert "bio\\\\.pdf, page 2" in str(image.proto)  # the caption, its filename escaped (ui/safe.py)
    assert svc.chat.history(stu, klass.id)[-1].citations[0].page == 2


def test_history_is_shown_on_the_next_visit(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    svc.chat.ask(stu, klass.id, "Where does the Calvin cycle take place?")
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert shown(at.chat_message[0].markdown[0].value) == "Where does the Calvin cycle take place?"
    assert shown(at.expander[0].label) == "[1] bio.pdf, p. 2"
    # each user has their own history
    at = logged_in(app_env, "prof@example.edu", page_name="chat")
    assert not at.chat_message


def test_nothing_relevant_says_so(app_env, svc, setup):
    prof, _, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at = _ask(at, "zzz qqq xxyyzz")
    assert shown(at.chat_message[1].markdown[0].value) == NOT_FOUND
    assert not at.expander


def test_clear_history(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "bio.pdf", NOTES)
    svc.chat.ask(stu, klass.id, "Where does the Calvin cycle take place?")
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at = at.sidebar.button(key="clear_chat").click().run()
    assert not at.chat_message
    assert svc.chat.history(stu, klass.id) == []


def test_answers_and_passages_keep_their_text_literally(app_env, svc, setup):
    """A passage that starts with "1." or holds a ">>>" prompt is not turned into a list or a quote,
    and its line breaks stay (indentation: tests/test_safe.py)."""
    prof, stu, klass = setup
    notes = (b"1. Recursion: a function calls itself.\n"
             b">>> def countdown(n):\n...     return countdown(n - 1)\n")
    upload(svc, prof, klass.id, "python.txt", notes)
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at = _ask(at, "What is a recursive function?")
    answer = at.chat_message[1].markdown[0].value
    passage = at.expander[0].markdown[0].value
    assert answer.startswith("1\\. Recursion") and "calls itself" in shown(answer)
    assert "\\>\\>\\> def countdown" in passage and "  \n" in passage  # literal prompt, line kept
