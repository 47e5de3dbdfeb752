"""Answers written by a language model, end to end through the chat service: the stand-in
OpenAI-compatible server (tests/llm_stub.py) over real HTTP on 127.0.0.1; the answer is checked
against its sources, falls back to the extractive answer when the model fails, and is stored."""
from __future__ import annotations

import pytest

from core.config import Settings
from core.services import build_services
from core.services.chat import FELL_BACK, NOTHING_VERIFIED
from core.search.embeddings import FakeEmbedder
from tests.factories import make_pdf, upload
from tests.llm_stub import LLMStub, Reply

LECTURE = [
    "Cell biology. The cell membrane separates the cell from its surroundings.",
    "Mitochondria produce ATP through cellular respiration. They have their own DNA.",
    "Chloroplasts carry out photosynthesis and turn light into chemical energy.",
]


@pytest.fixture
def stub():
    with LLMStub() as server:
        yield server


@pytest.fixture
def course(stub, tmp_path, database_url):
    settings = Settings(data_dir=tmp_path, database_url=database_url, llm_base_url=stub.base_url,
                        llm_model="stub-model", llm_api_key="test-key", llm_timeout_s=2, llm_max_retries=0)
    svc = build_services(settings, migrate=True, embedder=FakeEmbedder())
    prof = svc.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
    klass = svc.classes.create(prof, "Biology")
    assert upload(svc, prof, klass.id, "cells.pdf", make_pdf(LECTURE)).ok
    return svc, prof, klass.id


QUESTION = "What do mitochondria produce in the cell?"


def _source_of(answer, page: int) -> int:
    return next(c.n for c in answer.citations if c.page == page)


def test_generated_answer_streams_and_is_stored_with_its_model(stub, course):
    svc, prof, class_id = course
    # the retrieved passages come first in whatever order; script the reply after a dry run
    probe = svc.chat.ask(prof, class_id, QUESTION)
    n = _source_of(probe, 2)
    stub.script(Reply.stream(f"Mitochondria produce ATP through cellular respiration [{n}]."))
    stream = svc.chat.ask_stream(prof, class_id, QUESTION)
    pieces = list(stream)
    answer = stream.answer
    assert len(pieces) > 1 and "".join(pieces).startswith("Mitochondria produce ATP")
    assert answer.generated and answer.model == "stub-model" and answer.found
    assert answer.text == f"Mitochondria produce ATP through cellular respiration. [{n}]" or \
        answer.text == f"Mitochondria produce ATP through cellular respiration [{n}]."
    assert answer.to_dict()["generated"] is True and answer.to_dict()["model"] == "stub-model"
    sent = stub.requests[-1]
    assert sent.headers.get("authorization") == "Bearer test-key"
    assert QUESTION in sent.messages[-1]["content"] and "ATP" in sent.messages[-1]["content"]
    last = svc.chat.history(prof, class_id)[-1]
    assert last.id == answer.message_id and last.model == "stub-model"


def test_fabricated_sentence_is_removed_and_wrong_citation_repointed(stub, course):
    svc, prof, class_id = course
    probe = svc.chat.ask(prof, class_id, QUESTION)
    right = _source_of(probe, 2)
    wrong = next(c.n for c in probe.citations if c.n != right)
    stub.script(Reply.stream(f"Mitochondria produce ATP through cellular respiration [{wrong}]. "
                             f"They were discovered on the moon in 1969 by astronauts [{right}]. [9]"))
    answer = svc.chat.ask(prof, class_id, QUESTION)
    assert answer.generated and "moon" not in answer.text and "[9]" not in answer.text
    assert f"[{right}]" in answer.text and f"[{wrong}]" not in answer.text
    assert answer.notice and "removed" in answer.notice


@pytest.mark.parametrize("reply, reason", [
    (Reply.error(429, retry_after="60"), "busy"),
    (Reply.error(500), "server"),
    (Reply.hang(5.0), "time"),
])
def test_model_failure_falls_back_to_the_extractive_answer(stub, course, reply, reason):
    svc, prof, class_id = course
    stub.script(reply)
    answer = svc.chat.ask(prof, class_id, QUESTION)
    assert answer.found and not answer.generated and "ATP" in answer.text and answer.citations
    assert answer.notice and answer.notice.startswith(FELL_BACK.split("(")[0]) and reason in answer.notice
    history = svc.chat.history(prof, class_id)
    assert history[-2].content == QUESTION and history[-1].notice == answer.notice  # the question is kept


def test_nothing_verifiable_shows_the_extractive_answer(stub, course):
    svc, prof, class_id = course
    stub.script(Reply.stream("Bananas are an excellent source of potassium for athletes [1]."))
    answer = svc.chat.ask(prof, class_id, QUESTION)
    assert not answer.generated and answer.notice == NOTHING_VERIFIED and "ATP" in answer.text


def test_model_saying_not_covered_gives_related_material(stub, course):
    svc, prof, class_id = course
    stub.script(Reply.stream("NOT_COVERED: The sources do not say what mitochondria produce."))
    stream = svc.chat.ask_stream(prof, class_id, QUESTION)
    shown = "".join(stream)
    assert "NOT_COVERED" not in shown
    answer = stream.answer
    assert not answer.found and answer.citations == [] and answer.related and "NOT_COVERED" not in answer.text


def test_without_settings_no_model_is_used(tmp_path):
    svc = build_services(Settings(data_dir=tmp_path), migrate=True, embedder=FakeEmbedder())
    assert svc.chat.writer is None
