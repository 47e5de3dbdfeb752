"""Checked answers (gold questions): validation, runs as a student sees the class, re-runs after
every upload and delete, "stopped being answered", no trace in chat history or the query log, the
command line. Retrieval quality with the real model (marker `model`)."""
from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import func, select

from core.config import Settings
from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import ChatMessage, GoldQuestion, GoldResult, QueryLog
from core.services import build_services
from core.services.gold import FIRST, MAX_PER_CLASS, MISSED, TOP5, CitedPage, format_pages, judge, parse_pages
from tests.conftest import run_core
from tests.factories import make_pdf, upload

LECTURE = ["Cell biology. The cell membrane separates the cell from its surroundings.",
           "Mitochondria produce ATP through cellular respiration. They have their own DNA.",
           "Ribosomes build proteins from amino acids, reading messenger RNA."]
PLANTS = ["Photosynthesis. Chloroplasts capture light to make sugar from carbon dioxide and water."]
QUESTION = "What do mitochondria produce?"


def _count(svc, model) -> int:
    with svc.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def course(services, instructor, student):
    klass = services.classes.create(instructor, "Biology")
    services.classes.join(student, klass.join_code)
    lecture = upload(services, instructor, klass.id, "cells.pdf", make_pdf(LECTURE))
    assert lecture.ok
    return services, instructor, student, klass.id, lecture.document_id


# -- pages ---------------------------------------------------------------------------------------

def test_pages_parse_ranges_and_lists_and_print_back():
    assert parse_pages("3", 10, "a.pdf") == [3]
    assert parse_pages(" 3-5, 7 ,4", 10, "a.pdf") == [3, 4, 5, 7]
    assert parse_pages("2 – 3", 10, "a.pdf") == [2, 3]  # an en dash, as word processors type it
    assert parse_pages("", 10, "a.pdf") == []
    assert format_pages([7, 3, 5, 4]) == "3-5, 7" and format_pages([1]) == "1"
    assert parse_pages(format_pages([1, 2, 3, 9, 10]), 10, "a.pdf") == [1, 2, 3, 9, 10]


@pytest.mark.parametrize(("pages", "count", "message"), [
    ("x", 10, "“x” is not a page or a range"),
    ("3,,4", 10, "“” is not a page or a range"),
    ("0", 10, "counted from 1"),
    ("5-3", 10, "“5-3” runs backwards: write 3-5"),
    ("11", 10, "a.pdf has 10 pages; page 11 is not one of them"),
    ("2-12", 10, "page 12 is not one of them"),
    ("1", 0, "a.pdf has no pages (a text file)"),
])
def test_bad_pages_get_a_specific_message(pages, count, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_pages(pages, count, "a.pdf")


def test_judge_first_top5_missed():
    cited = [CitedPage(1, "a.pdf", 4), CitedPage(2, "b.pdf", 2), CitedPage(1, "a.pdf", 2)]
    assert judge(1, [4], cited) == FIRST
    assert judge(1, [2, 3], cited) == TOP5  # the third citation
    assert judge(2, [], cited) == TOP5  # any page of b.pdf
    assert judge(1, [9], cited) == MISSED
    assert judge(None, [], cited) == MISSED  # the document was deleted
    assert judge(1, [2], []) == MISSED  # nothing cited: the material does not cover it


# -- the service ------------------------------------------------------------------------------------

def test_add_validates_and_stores_nothing_on_bad_input(course):
    svc, prof, _, class_id, doc_id = course
    other = svc.classes.create(prof, "Other")
    foreign = upload(svc, prof, other.id, "foreign.pdf", make_pdf(PLANTS)).document_id
    key = upload(svc, prof, class_id, "key.pdf", make_pdf(["Answer key."]), instructors_only=True)
    notes = upload(svc, prof, class_id, "notes.md", b"# Notes\n\nOsmosis moves water.").document_id
    bad = [
        (("   ", doc_id, "2"), ValidationError, "Write the question a student would ask"),
        (("x" * 501, doc_id, "2"), ValidationError, "at most 500 characters; this one has 501"),
        ((QUESTION, foreign, "1"), NotFound, f"Document {foreign} is not in this class"),
        ((QUESTION, "missing.pdf", "1"), NotFound, "No document named “missing.pdf” in this class"),
        ((QUESTION, key.document_id, "1"), ValidationError, "key.pdf is for instructors only"),
        ((QUESTION, doc_id, "4"), ValidationError, "cells.pdf has 3 pages; page 4 is not one of them"),
        ((QUESTION, notes, "1"), ValidationError, "notes.md has no pages"),
    ]
    for args, error, message in bad:
        with pytest.raises(error, match=re.escape(message)):
            svc.gold.add(prof, class_id, *args)
    assert svc.gold.list(prof, class_id) == [] and _count(svc, GoldQuestion) == 0

    by_name = svc.gold.add(prof, class_id, f"  {QUESTION}\n", "cells.pdf", "2, 1")
    assert (by_name.question, by_name.document_id, by_name.pages) == (QUESTION, doc_id, (1, 2))
    assert by_name.status is None and by_name.expected == "cells.pdf, p. 1-2"
    anywhere = svc.gold.add(prof, class_id, "What is osmosis?", notes, "")
    assert anywhere.pages == () and anywhere.expected == "notes.md, any page"
    assert [q.id for q in svc.gold.list(prof, class_id)] == [by_name.id, anywhere.id]


def test_a_class_holds_a_limited_number(course, monkeypatch):
    svc, prof, _, class_id, doc_id = course
    monkeypatch.setattr("core.services.gold.MAX_PER_CLASS", 2)
    svc.gold.add(prof, class_id, "One?", doc_id)
    svc.gold.add(prof, class_id, "Two?", doc_id)
    with pytest.raises(ValidationError, match="at most 2 checked questions"):
        svc.gold.add(prof, class_id, "Three?", doc_id)
    assert MAX_PER_CLASS >= 20


def test_students_are_refused_everything(course):
    svc, prof, stu, class_id, doc_id = course
    gold = svc.gold.add(prof, class_id, QUESTION, doc_id, "2")
    for call in (lambda: svc.gold.add(stu, class_id, QUESTION, doc_id, "2"), lambda: svc.gold.list(stu, class_id),
                 lambda: svc.gold.run(stu, class_id), lambda: svc.gold.delete(stu, gold.id)):
        with pytest.raises(PermissionDenied, match="Only an instructor"):
            call()
    assert [q.status for q in svc.gold.list(prof, class_id)] == [None]  # never run by the refused run


def test_run_writes_no_chat_history_and_no_query_log(course):
    svc, prof, stu, class_id, doc_id = course
    svc.chat.ask(stu, class_id, "What do ribosomes build?")  # one real ask: there is something to leave alone
    before = (_count(svc, ChatMessage), _count(svc, QueryLog))
    svc.gold.add(prof, class_id, QUESTION, doc_id, "2")
    (result,) = svc.gold.run(prof, class_id)
    assert result.status == FIRST and result.cited[0] == CitedPage(doc_id, "cells.pdf", 2)
    assert (_count(svc, ChatMessage), _count(svc, QueryLog)) == before == (2, 1)
    assert svc.chat.history(prof, class_id) == []


def test_upload_and_delete_run_the_checks_and_a_lost_answer_is_flagged(course):
    svc, prof, _, class_id, doc_id = course
    gold = svc.gold.add(prof, class_id, QUESTION, doc_id, "2")
    plants = upload(svc, prof, class_id, "plants.pdf", make_pdf(PLANTS))  # no run() called
    (after_upload,) = svc.gold.list(prof, class_id)
    assert after_upload.status == FIRST and after_upload.ran_at is not None and not after_upload.stopped

    svc.documents.delete(prof, doc_id)  # the page that answered it is gone
    (after_delete,) = svc.gold.list(prof, class_id)
    assert (after_delete.status, after_delete.previous_status) == (MISSED, FIRST)
    assert after_delete.stopped and after_delete.document_id is None
    assert after_delete.expected == "cells.pdf (deleted), p. 2"  # still named

    svc.documents.delete(prof, plants.document_id)  # another run: still missed, still flagged
    (later,) = svc.gold.list(prof, class_id)
    assert (later.status, later.previous_status, later.stopped) == (MISSED, MISSED, True)
    svc.gold.delete(prof, gold.id)
    assert _count(svc, GoldQuestion) == 0 and _count(svc, GoldResult) == 0


def test_a_question_never_answered_is_missed_but_not_stopped(course):
    svc, prof, _, class_id, doc_id = course
    svc.gold.add(prof, class_id, QUESTION, doc_id, "3")  # the wrong page
    (q,) = svc.gold.run(prof, class_id)
    assert q.status == MISSED and not q.stopped and q.cited  # something was cited, not the page given


def test_a_failing_check_never_fails_an_upload(course, monkeypatch, caplog):
    svc, prof, _, class_id, doc_id = course
    svc.gold.add(prof, class_id, QUESTION, doc_id, "2")

    def broken(*args, **kwargs):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(svc.chat, "sources_for", broken)
    with caplog.at_level(logging.ERROR):
        result = upload(svc, prof, class_id, "plants.pdf", make_pdf(PLANTS))
        svc.documents.delete(prof, result.document_id)
    assert result.ok and svc.documents.list(prof, class_id)[0].id == doc_id
    assert sum("listener failed" in r.getMessage() for r in caplog.records) == 2


def test_hidden_material_does_not_count(course):
    """A check asks as a student: a page only instructors see is not a right page cited."""
    svc, prof, _, class_id, doc_id = course
    svc.gold.add(prof, class_id, QUESTION, doc_id, "2")
    assert svc.gold.run(prof, class_id)[0].status == FIRST
    svc.documents.set_visibility(prof, doc_id, True, None)
    (q,) = svc.gold.run(prof, class_id)
    assert q.status == MISSED and q.stopped and all(c.document_id != doc_id for c in q.cited)
    # the instructor's own view still cites it: the check is not asking as the instructor
    assert svc.chat.sources_for(prof, class_id, QUESTION, as_student=False)[0].document_id == doc_id
    assert svc.chat.sources_for(prof, class_id, QUESTION) == []


def test_a_deleted_class_takes_its_questions(course):
    svc, prof, _, class_id, doc_id = course
    svc.gold.add(prof, class_id, QUESTION, doc_id, "2")
    svc.gold.run(prof, class_id)
    svc.classes.delete(prof, class_id)
    assert _count(svc, GoldQuestion) == 0 and _count(svc, GoldResult) == 0


# -- the command line ----------------------------------------------------------------------------

def test_cli_add_list_run_delete_and_exit_codes(course, settings, monkeypatch, capsys):
    _, _, _, class_id, doc_id = course
    cid = str(class_id)
    assert run_core(["gold", "add", "--class", cid, "--question", QUESTION, "--document", "cells.pdf",
                     "--pages", "2"], settings, monkeypatch) == 0
    assert "added checked question" in capsys.readouterr().out
    assert run_core(["gold", "add", "--class", cid, "--question", QUESTION, "--document", str(doc_id),
                     "--pages", "9"], settings, monkeypatch) == 2
    assert "error: cells.pdf has 3 pages; page 9 is not one of them." in capsys.readouterr().err
    assert run_core(["gold", "add", "--class", cid, "--question", QUESTION, "--document", "cells.pdf",
                     "--as", "student@example.edu"], settings, monkeypatch) == 2
    assert "error: Only an instructor" in capsys.readouterr().err

    assert run_core(["gold", "run", "--class", cid], settings, monkeypatch) == 0
    assert "1/1 answered on a right page" in capsys.readouterr().out
    assert run_core(["gold", "list", "--class", cid, "--json"], settings, monkeypatch) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["status"], listed["pages"], listed["document"]) == ("first", [2], "cells.pdf")
    assert listed["cited"][0]["page"] == 2

    assert run_core(["delete-document", str(doc_id)], settings, monkeypatch) == 0
    capsys.readouterr()
    assert run_core(["gold", "run", "--class", cid, "--json"], settings, monkeypatch) == 1  # missed
    (ran,) = json.loads(capsys.readouterr().out)
    assert (ran["status"], ran["stopped"], ran["document_id"]) == ("missed", True, None)
    assert run_core(["gold", "delete", str(listed["id"])], settings, monkeypatch) == 0
    capsys.readouterr()
    assert run_core(["gold", "list", "--class", cid, "--json"], settings, monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run_core(["gold", "delete", str(listed["id"])], settings, monkeypatch) == 2


# -- the real model --------------------------------------------------------------------------------

BOOK = [
    ("Chapter 1. Variables. A variable is a name that refers to a value. An assignment statement creates "
     "a new variable and gives it a value."),
    ("Chapter 2. Functions. A function is a named sequence of statements that performs a computation. "
     "You define a function with def and call it by name with arguments."),
    ("Chapter 3. Lists and tuples. A list is a sequence of values that can be changed. A tuple is a "
     "sequence of values like a list, but tuples are immutable: they cannot be changed."),
    ("Chapter 4. Recursion. A recursive function is a function that calls itself. Every recursion needs "
     "a base case, or it never ends."),
]
KEY = [("Answer key, exercise 5. The base case of the factorial function is n equal to zero, which returns one. "
        "Recursion without a base case never ends.")]


@pytest.fixture
def model_course(tmp_path, fast_bcrypt):
    svc = build_services(Settings(app_env="test", data_dir=tmp_path, embedder="minilm",
                                  auth_cookie_key="x" * 40), migrate=True)
    prof = svc.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
    klass = svc.classes.create(prof, "Programming")
    book = upload(svc, prof, klass.id, "thinkpython.pdf", make_pdf(BOOK))
    assert book.ok
    yield svc, prof, klass.id, book.document_id
    svc.db.engine.dispose()


@pytest.mark.model
def test_real_model_first_then_missed_and_flagged_after_the_page_is_deleted(model_course):
    svc, prof, class_id, book = model_course
    svc.gold.add(prof, class_id, "What does it mean that tuples are immutable?", book, "3")
    svc.gold.add(prof, class_id, "What is a recursive function?", book, "4")
    results = svc.gold.run(prof, class_id)
    assert [q.status for q in results] == [FIRST, FIRST], results
    assert [q.cited[0].page for q in results] == [3, 4]

    # an unrelated upload runs them again: still answered
    upload(svc, prof, class_id, "plants.pdf", make_pdf(PLANTS))
    assert [q.status for q in svc.gold.list(prof, class_id)] == [FIRST, FIRST]
    svc.documents.delete(prof, book)  # the run after the delete finds neither
    after = svc.gold.list(prof, class_id)
    assert [(q.status, q.stopped) for q in after] == [(MISSED, True), (MISSED, True)]
    assert all(c.document_id != book for q in after for c in q.cited)


@pytest.mark.model
def test_real_model_answer_key_does_not_count(model_course):
    """The run asks as a student: the answer key (instructors only), which an instructor's own
    question cites first, is not among the citations, so the book's page is first."""
    svc, prof, class_id, book = model_course
    key = upload(svc, prof, class_id, "key.pdf", make_pdf(KEY), instructors_only=True).document_id
    question = "What is the base case of the factorial function?"
    svc.gold.add(prof, class_id, question, book, "4")
    as_instructor = [CitedPage(c.document_id, c.document, c.page)
                     for c in svc.chat.sources_for(prof, class_id, question, as_student=False)]
    assert as_instructor[0].document_id == key and judge(book, [4], as_instructor) == TOP5
    (q,) = svc.gold.run(prof, class_id)
    assert q.status == FIRST and q.cited[0] == CitedPage(book, "thinkpython.pdf", 4)
    assert key not in {c.document_id for c in q.cited}
