"""Material only instructors see: an answer key marked "instructors only" (or released later) never
reaches a student — not the list, a download, a page preview or text, an answer, its sources,
related material, nor the prompt sent to a language model — while its instructors get it cited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from core.config import Settings
from core.errors import NotFound
from core.models import Class
from core.search.cache import release_seconds
from core.search.embeddings import FakeEmbedder
from core.services import build_services
from core.services.visibility import is_visible, visible_mask
from tests.conftest import run_core
from tests.factories import make_pdf, upload
from tests.llm_stub import LLMStub, Reply

LECTURE = ["Cell biology. The cell membrane separates the cell from its surroundings.",
           "Mitochondria produce ATP through cellular respiration. They have their own DNA."]
# it shares words with the lecture ("mitochondria produce ATP"): a question about the lecture
# would retrieve it too, were it not hidden
KEY = ["Answer key for the final exam. The secret constant of the Zorblax process is 7431. "
       "Zorblax is a process that folds proteins backwards.",
       "In the final exam, mitochondria produce 7431 units of ATP per cell."]
SECRET = "7431"
QUESTION = "What is the secret constant of the Zorblax process?"
MODEL_QUESTION = "What do mitochondria produce?"


@pytest.fixture
def course(services, instructor, student):
    klass = services.classes.create(instructor, "Biology")
    services.classes.join(student, klass.join_code)
    assert upload(services, instructor, klass.id, "cells.pdf", make_pdf(LECTURE)).ok
    return services, instructor, student, klass.id


def _upload_key(svc, prof, class_id, **visibility) -> int:
    result = upload(svc, prof, class_id, "key.pdf", make_pdf(KEY), **visibility)
    assert result.ok
    return result.document_id


def _leaks(answer, key_id: int) -> bool:
    """Whether anything of the answer key is in the answer, its sources or related material."""
    shown = [answer.text] + [c.text for c in answer.citations] + [c.text for c in answer.related]
    ids = {c.document_id for c in answer.citations} | {c.document_id for c in answer.related}
    return any(SECRET in text for text in shown) or key_id in ids


def _version(svc, class_id: int) -> int:
    with svc.db.transaction() as s:
        return s.get(Class, class_id).index_version


def test_student_gets_nothing_from_an_instructors_only_document(course):
    svc, prof, stu, class_id = course
    key_id = _upload_key(svc, prof, class_id, instructors_only=True)
    for question in (QUESTION, "What is Zorblax?", "Zorblax 7431 answer key final exam"):
        assert not _leaks(svc.chat.ask(stu, class_id, question), key_id), question
    assert [d.filename for d in svc.documents.list(stu, class_id)] == ["cells.pdf"]
    # refused exactly as a document that does not exist: a student cannot tell it is there
    missing = f"Document {key_id} does not exist."
    for call in (lambda: svc.documents.download(stu, key_id),
                 lambda: svc.documents.download_url(stu, key_id),
                 lambda: svc.documents.page_preview(stu, key_id, 1, 100),
                 lambda: svc.documents.page_text(stu, key_id, 1)):
        with pytest.raises(NotFound) as refused:
            call()
        assert str(refused.value) == missing


def test_hidden_words_are_unknown_to_a_student_as_if_the_key_did_not_exist(course):
    """Coverage counts words in visible material only: the reply names "Zorblax" as unmentioned,
    just as in a class without the key, rather than hinting that some material holds it."""
    svc, prof, stu, class_id = course
    before = svc.chat.ask(stu, class_id, QUESTION).text
    _upload_key(svc, prof, class_id, instructors_only=True)
    assert svc.chat.ask(stu, class_id, QUESTION).text == before


def test_instructor_gets_it_cited_and_listed(course):
    svc, prof, _, class_id = course
    key_id = _upload_key(svc, prof, class_id, instructors_only=True)
    answer = svc.chat.ask(prof, class_id, QUESTION)
    assert answer.found and answer.citations[0].document_id == key_id and SECRET in answer.text
    listed = {d.filename: d for d in svc.documents.list(prof, class_id)}
    assert listed["key.pdf"].instructors_only and listed["key.pdf"].release_at is None
    assert svc.documents.download(prof, key_id)[0] == "key.pdf"
    assert svc.documents.page_preview(prof, key_id, 1, 100).startswith(b"\x89PNG")


def test_release_at_in_the_future_hides_in_the_past_shows(course):
    svc, prof, stu, class_id = course
    later = datetime.now(timezone.utc) + timedelta(days=2)
    key_id = _upload_key(svc, prof, class_id, release_at=later)
    assert not _leaks(svc.chat.ask(stu, class_id, QUESTION), key_id)
    assert "key.pdf" not in [d.filename for d in svc.documents.list(stu, class_id)]
    with pytest.raises(NotFound):
        svc.documents.download(stu, key_id)
    assert svc.documents.list(prof, class_id)[0].release_at == later

    svc.documents.set_visibility(prof, key_id, False, datetime.now(timezone.utc) - timedelta(minutes=1))
    answer = svc.chat.ask(stu, class_id, QUESTION)
    assert answer.found and answer.citations[0].document_id == key_id and SECRET in answer.text
    assert svc.documents.download(stu, key_id)[0] == "key.pdf"


def test_a_release_time_passing_needs_no_write():
    """The index keeps the release time and compares it when asked: the same arrays, two clocks."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    hidden = np.array([False, True, False, False])
    release = np.array([release_seconds(None), release_seconds(None), release_seconds(now),
                        release_seconds(now - timedelta(days=1))])
    assert visible_mask("student", hidden, release, now - timedelta(seconds=1)).tolist() == [True, False, False, True]
    assert visible_mask("student", hidden, release, now).tolist() == [True, False, True, True]
    assert visible_mask("instructor", hidden, release, now) is None
    assert visible_mask("operator", hidden, release, now) is None
    assert visible_mask("student", np.zeros(2, bool), np.full(2, np.nan), now) is None  # nothing hidden
    assert is_visible("legacy", False, now, now) and not is_visible("legacy", False, now, now - timedelta(1))
    assert is_visible("instructor", True, None) and not is_visible("student", True, None)


def test_set_visibility_flips_it_and_the_cached_index_follows(course):
    svc, prof, stu, class_id = course
    key_id = _upload_key(svc, prof, class_id)
    assert SECRET in svc.chat.ask(stu, class_id, QUESTION).text  # builds and caches the index
    version = _version(svc, class_id)
    svc.documents.set_visibility(prof, key_id, True, None)
    assert _version(svc, class_id) == version + 1
    assert not _leaks(svc.chat.ask(stu, class_id, QUESTION), key_id)
    assert SECRET in svc.chat.ask(prof, class_id, QUESTION).text
    svc.documents.set_visibility(prof, key_id, False, None)
    assert SECRET in svc.chat.ask(stu, class_id, QUESTION).text
    with pytest.raises(Exception, match="Only an instructor"):
        svc.documents.set_visibility(stu, key_id, False, None)


def test_uploading_the_same_file_again_as_instructors_only_hides_it(course):
    svc, prof, stu, class_id = course
    key_id = _upload_key(svc, prof, class_id)
    again = upload(svc, prof, class_id, "key.pdf", make_pdf(KEY), instructors_only=True)
    assert again.deduplicated and again.document_id == key_id
    assert not _leaks(svc.chat.ask(stu, class_id, QUESTION), key_id)
    # uploading it again without the mark does not show it: hiding is never undone by accident
    upload(svc, prof, class_id, "key.pdf", make_pdf(KEY))
    assert "key.pdf" not in [d.filename for d in svc.documents.list(stu, class_id)]


def test_cli_ingest_instructors_only_and_release_at(course, settings, monkeypatch, tmp_path, capsys):
    svc, prof, stu, class_id = course
    key, draft = tmp_path / "key.pdf", tmp_path / "draft.pdf"
    key.write_bytes(make_pdf(KEY))
    draft.write_bytes(make_pdf(["Draft of next week's lecture on ribosomes and translation."]))
    assert run_core(["ingest", "--class", str(class_id), "--as", "prof@example.edu", "--instructors-only",
                     str(key)], settings, monkeypatch) == 0
    assert run_core(["ingest", "--class", str(class_id), "--as", "prof@example.edu",
                     "--release-at", "2999-01-01T09:00", str(draft)], settings, monkeypatch) == 0
    listed = {d.filename: d for d in svc.documents.list(prof, class_id)}
    assert listed["key.pdf"].instructors_only and listed["key.pdf"].release_at is None
    assert listed["draft.pdf"].release_at == datetime(2999, 1, 1, 9, 0, tzinfo=timezone.utc)
    assert [d.filename for d in svc.documents.list(stu, class_id)] == ["cells.pdf"]
    assert not _leaks(svc.chat.ask(stu, class_id, QUESTION), listed["key.pdf"].id)
    capsys.readouterr()
    assert run_core(["documents", "--class", str(class_id), "--as", "prof@example.edu"], settings, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "instructors only" in out and "from 2999-01-01T09:00:00+00:00" in out


def test_cli_visibility_changes_who_sees_a_document_after_ingest(course, settings, monkeypatch, capsys):
    svc, prof, stu, class_id = course
    key_id = _upload_key(svc, prof, class_id)
    seen = lambda: [d.filename for d in svc.documents.list(stu, class_id)]  # noqa: E731
    assert "key.pdf" in seen()
    as_prof = ["--as", "prof@example.edu"]
    assert run_core(["visibility", str(key_id), "--instructors-only", *as_prof], settings, monkeypatch) == 0
    assert "seen by instructors only" in capsys.readouterr().out and "key.pdf" not in seen()
    assert run_core(["visibility", str(key_id), "--release-at", "2999-01-01T09:00", *as_prof],
                    settings, monkeypatch) == 0
    assert "key.pdf" not in seen()
    assert run_core(["visibility", str(key_id), "--everyone", *as_prof], settings, monkeypatch) == 0
    assert "key.pdf" in seen()
    # a student may not, and must say what they want
    assert run_core(["visibility", str(key_id), "--instructors-only", "--as", "student@example.edu"],
                    settings, monkeypatch) == 2
    assert "key.pdf" in seen()
    with pytest.raises(SystemExit):
        run_core(["visibility", str(key_id), *as_prof], settings, monkeypatch)


def test_the_hidden_passage_never_reaches_the_model_for_a_student(tmp_path, database_url, fast_bcrypt):
    with LLMStub() as stub:
        settings = Settings(data_dir=tmp_path, database_url=database_url, llm_base_url=stub.base_url,
                            llm_model="stub-model", llm_api_key="test-key", llm_timeout_s=2, llm_max_retries=0)
        svc = build_services(settings, migrate=True, embedder=FakeEmbedder())
        try:
            prof = svc.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
            stu = svc.accounts.register("stu@example.edu", "battery-staple-7", "Stu").actor()
            klass = svc.classes.create(prof, "Biology")
            svc.classes.join(stu, klass.join_code)
            assert upload(svc, prof, klass.id, "cells.pdf", make_pdf(LECTURE)).ok
            key_id = _upload_key(svc, prof, klass.id, instructors_only=True)
            stub.script(Reply.stream("Mitochondria produce ATP through cellular respiration [1]."))
            # the instructor's prompt for the question holds the key's passage: it would be retrieved
            svc.chat.ask(prof, klass.id, MODEL_QUESTION)
            assert any(SECRET in m["content"] for r in stub.requests for m in r.messages)
            stub.requests.clear()
            answer = svc.chat.ask(stu, klass.id, MODEL_QUESTION)
            student_prompts = [m["content"] for r in stub.requests for m in r.messages]
            assert answer.generated and student_prompts
            assert not any(SECRET in p or "Zorblax" in p for p in student_prompts)
            assert not _leaks(answer, key_id)
        finally:
            svc.db.engine.dispose()
