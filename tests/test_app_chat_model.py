"""Chat page (AppTest) with a language model configured: the stand-in OpenAI-compatible server
(tests/llm_stub.py, real HTTP on 127.0.0.1) writes the answer; the page shows the checked answer
with the model's name, a fallback with its notice, and related material when nothing covers it."""
from __future__ import annotations

import pytest

from tests.app_support import PASSWORD, app_env, logged_in, shown, texts  # noqa: F401
from tests.factories import make_pdf, upload
from tests.llm_stub import LLMStub, Reply

NOTES = make_pdf([
    "Photosynthesis turns light energy into chemical energy in plants.",
    "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars.",
])
QUESTION = "Where does the Calvin cycle take place?"


@pytest.fixture
def stub(app_env, monkeypatch):
    with LLMStub() as server:
        monkeypatch.setenv("LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LLM_MODEL", "stub-model")
        monkeypatch.setenv("LLM_API_KEY", "test-key")
        monkeypatch.setenv("LLM_TIMEOUT_S", "2")
        monkeypatch.setenv("LLM_MAX_RETRIES", "0")
        yield server


@pytest.fixture
def course(stub, app_env):
    from ui.state import get_services

    svc = get_services()
    prof = svc.accounts.register("prof@example.edu", PASSWORD, "Prof").actor()
    stu = svc.accounts.register("stu@example.edu", PASSWORD, "Stu").actor()
    klass = svc.classes.create(prof, "Biology 101")
    svc.classes.join(stu, klass.join_code)
    assert upload(svc, prof, klass.id, "bio.pdf", NOTES).ok
    return svc, stu, klass


def _ask(at, question):
    at.chat_input[0].set_value(question)
    return at.run()


def _page_two(svc, stu, klass) -> int:
    probe = svc.chat.ask(stu, klass.id, QUESTION)
    svc.chat.clear_history(stu, klass.id)
    return next(c.n for c in probe.citations if c.page == 2)


def test_model_answer_is_checked_and_names_the_model(app_env, stub, course):
    svc, stu, klass = course
    n = _page_two(svc, stu, klass)
    stub.script(Reply.stream(f"The Calvin cycle takes place in the stroma of the chloroplast [{n}]. "
                             f"It was discovered on Mars in 2031 [{n}]."))
    at = _ask(logged_in(app_env, "stu@example.edu", password=PASSWORD, page_name="chat"), QUESTION)
    assert not at.exception
    page = texts(at)
    assert "stroma of the chloroplast" in page and "Mars" not in page
    captions = [shown(c.value) for c in at.caption]
    assert any("Written by stub-model" in c for c in captions)
    assert any("removed" in c for c in captions)
    assert QUESTION in stub.requests[-1].messages[-1]["content"]


def test_model_failure_shows_the_quoted_answer_with_a_notice(app_env, stub, course):
    stub.script(Reply.error(500))
    at = _ask(logged_in(app_env, "stu@example.edu", password=PASSWORD, page_name="chat"), QUESTION)
    assert not at.exception
    assert "stroma" in texts(at)
    captions = [shown(c.value) for c in at.caption]
    assert any("could not answer" in c and "quotes the material directly" in c for c in captions)
    assert not any("Written by" in c for c in captions)


def test_model_saying_not_covered_shows_related_material(app_env, stub, course):
    stub.script(Reply.stream("NOT_COVERED: The sources do not say where the Calvin cycle happens."))
    at = _ask(logged_in(app_env, "stu@example.edu", password=PASSWORD, page_name="chat"), QUESTION)
    assert not at.exception
    page = texts(at)
    assert "NOT_COVERED" not in page and "do not say where the Calvin cycle happens" in page
    assert any("Related material" in shown(c.value) for c in at.caption)
