"""The language model's answer over real HTTP: a stand-in OpenAI-compatible server on 127.0.0.1
(tests/llm_stub.py) answers the official `openai` client with scripted replies and failures."""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest

from core.answers.generate import (NOT_COVERED, GenerationFailed, LLMWriter, build_messages, make_writer,
                                   without_marker)
from core.answers.model import Citation
from core.config import Settings
from tests.llm_stub import LLMStub, Reply

KEY = "sk-test-4f9c2e"
TIMEOUT_S = 0.5  # short, so that the timeout cases stay fast
SOURCES = [
    Citation(1, 7, "lecture3.pdf", 4, "The Calvin cycle takes place in the stroma of the chloroplast.", 0.61, "iv"),
    Citation(2, 7, "lecture3.pdf", 5, "Mitochondria produce ATP through cellular respiration.", 0.42),
]
ANSWER = "The Calvin cycle takes place in the stroma [1]. It is part of photosynthesis [1]."


@pytest.fixture
def stub():
    with LLMStub() as server:
        yield server


@pytest.fixture
def writer(stub) -> LLMWriter:
    settings = Settings(llm_base_url=stub.base_url, llm_model="stub-model", llm_api_key=KEY,
                        llm_timeout_s=TIMEOUT_S, llm_max_retries=1)
    made = make_writer(settings)
    assert made is not None and made.model == "stub-model"
    return made


def test_streamed_reply_arrives_in_pieces(stub, writer):
    stub.script(Reply.stream(ANSWER, size=9))
    deltas = list(writer.stream("Where does the Calvin cycle take place?", SOURCES))
    assert len(deltas) > 3 and "".join(deltas) == ANSWER
    body = stub.requests[-1].body
    assert body["stream"] is True and body["model"] == "stub-model"
    assert body["max_tokens"] <= 400 and body["temperature"] <= 0.3


def test_plain_reply(stub, writer):
    stub.script(Reply.plain(ANSWER))
    assert writer.complete("Where does the Calvin cycle take place?", SOURCES) == ANSWER
    assert not stub.requests[-1].body.get("stream")


def test_prompt_carries_numbered_sources_question_and_rules(stub, writer):
    stub.script(Reply.stream(ANSWER))
    list(writer.stream("Où se déroule le cycle de Calvin ?", SOURCES))
    system, user = stub.requests[-1].messages[0], stub.requests[-1].messages[-1]
    assert system["role"] == "system" and user["role"] == "user"
    assert "[1] lecture3.pdf, p. iv:\nThe Calvin cycle takes place in the stroma" in user["content"]
    assert "[2] lecture3.pdf, p. 5:\nMitochondria produce ATP" in user["content"]
    assert user["content"].rstrip().endswith("Question: Où se déroule le cycle de Calvin ?")
    rules = system["content"]
    assert "language of the student's question" in rules  # answers in the student's language
    assert NOT_COVERED in rules and "only what the sources say" in rules and "[1]" in rules


def test_authorization_header_carries_the_key(stub, writer):
    stub.script(Reply.stream(ANSWER))
    list(writer.stream("q", SOURCES))
    assert stub.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert stub.requests[-1].path == "/v1/chat/completions"


def test_history_is_the_last_two_turns_shortened_without_old_citations(stub, writer):
    history = [("first?", "one [1]."), ("second?", "two [2]."), ("third?", "three " * 400 + "[3].")]
    messages = build_messages("and then?", SOURCES, history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == "second?" and messages[2]["content"] == "two."
    assert len(messages[4]["content"]) <= 610 and "[3]" not in messages[4]["content"]
    stub.script(Reply.stream(ANSWER))
    list(writer.stream("and then?", SOURCES, history))
    assert len(stub.requests[-1].messages) == 6


def _fails(writer, *, consume_first: bool = False) -> tuple[str, float, list[str]]:
    started, got = time.monotonic(), []
    with pytest.raises(GenerationFailed) as err:
        for delta in writer.stream("q", SOURCES):
            got.append(delta)
    return err.value.reason, time.monotonic() - started, got


def test_rate_limit_is_retried_once_then_fails_with_a_short_reason(stub, writer):
    stub.script(Reply.error(429, retry_after="0.1"))
    reason, _, _ = _fails(writer)
    assert reason == "the language model is busy (rate limit)"
    assert len(stub.requests) == 2  # the first try and max_retries = 1


def test_rate_limit_asking_for_a_long_wait_is_not_waited_for(stub, writer):
    stub.script(Reply.error(429, retry_after="60"))
    reason, seconds, _ = _fails(writer)
    assert "rate limit" in reason and seconds < 2 and len(stub.requests) == 1


def test_rate_limit_then_success(stub, writer):
    stub.script(Reply.error(429, retry_after="0.1"), Reply.stream(ANSWER))
    assert "".join(writer.stream("q", SOURCES)) == ANSWER


def test_server_error(stub, writer):
    stub.script(Reply.error(500))
    reason, _, _ = _fails(writer)
    assert reason == "the language model had a server error" and len(stub.requests) == 2


def test_silent_server_times_out(stub, writer):
    stub.script(Reply.hang(10))
    reason, seconds, _ = _fails(writer)
    assert reason == "the language model did not answer in time"
    assert len(stub.requests) == 2 and seconds < 2 * TIMEOUT_S + 2  # two tries, bounded


def test_server_going_silent_mid_answer_times_out(stub, writer):
    stub.script(Reply.stream_then_hang("The Calvin cycle", seconds=10))
    reason, seconds, got = _fails(writer)
    assert got == ["The Calvin cycle"] and reason == "the language model did not answer in time"
    assert seconds < TIMEOUT_S + 2


def test_server_trickling_past_the_budget_is_cut_off(stub, writer):
    stub.script(Reply.stream(ANSWER * 4, size=4, delay_s=0.03))  # every gap is short, the whole is not
    reason, seconds, got = _fails(writer)
    assert got and "did not answer in time" in reason and seconds < TIMEOUT_S + 1


def test_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nothing listens there
    writer = LLMWriter(f"http://127.0.0.1:{port}/v1", "m", timeout_s=TIMEOUT_S, max_retries=0)
    assert _fails(writer)[0] == "the language model could not be reached"


def test_empty_reply_is_a_failure(stub, writer):
    stub.script(Reply.stream(""))
    assert _fails(writer)[0] == "the language model returned an empty answer"


def test_the_key_is_never_logged(stub, writer, caplog):
    stub.script(Reply.error(500))
    with caplog.at_level(logging.DEBUG):
        _fails(writer)
    assert caplog.records and KEY not in caplog.text
    settings = Settings(llm_base_url=stub.base_url, llm_model="m", llm_api_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())


def test_marker_is_hidden_while_streaming():
    assert without_marker("NOT_") == ""
    assert without_marker("NOT_COVERED: The course material does not cover this.") == \
        "The course material does not cover this."
    assert without_marker("The stroma [1].") == "The stroma [1]."
    assert without_marker("**NOT_COVERED**: Le cours n'en parle pas.") == "Le cours n'en parle pas."


def test_not_configured_means_no_writer_and_no_openai_import():
    code = ("import sys; from core.config import Settings; from core.answers.generate import make_writer; "
            "import core.answers.verify; "
            "assert make_writer(Settings(llm_base_url='', llm_model='')) is None; "
            "assert make_writer(Settings(llm_base_url='http://127.0.0.1:9/v1', llm_model='')) is None; "
            "assert 'openai' not in sys.modules, 'openai imported without a model configured'")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": ""}, cwd=str(_root()))


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent
