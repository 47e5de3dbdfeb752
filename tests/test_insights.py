"""Insights for instructors: questions per day, what the material did not answer (grouped by
meaning), unhelpful answers, the pages cited most, a CSV without names, and the one explicit,
logged act that names who asked. On SQLite and PostgreSQL, through real asks where possible."""
from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from core.answers.coverage import THRESHOLD, WEAK_MARGIN, is_weak
from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import QueryLog
from core.search.embeddings import make_embedder
from core.services.actors import SYSTEM
from core.services.insights import Ask, InsightsService, group_questions
from tests.conftest import run_core
from tests.factories import make_pdf, upload

LECTURE = [
    "Lecture 3: Cell biology. The cell membrane is a lipid bilayer that controls what enters the cell.",
    "Mitochondria produce ATP through cellular respiration. They have their own DNA.",
]
COVERED = "What do mitochondria produce?"
MISSING = "What is word2vec?"


@pytest.fixture
def klass(services, instructor, student):
    info = services.classes.create(instructor, "Biology")
    assert upload(services, instructor, info.id, "lecture3.pdf", make_pdf(LECTURE)).ok
    services.classes.join(student, info.join_code)
    return info


def logs(services) -> list[QueryLog]:
    with services.db.transaction() as s:
        return s.scalars(select(QueryLog).order_by(QueryLog.id)).all()


def add_log(services, class_id: int, question: str | None, at: datetime, found: bool = False, weak: bool = False,
            sources: list | None = None) -> int:
    with services.db.transaction() as s:
        row = QueryLog(class_id=class_id, latency_ms=1.0, n_sources=len(sources or []), found=found, weak=weak,
                       question=question, created_at=at, sources=sources)
        s.add(row)
        s.flush()
        return row.id


def test_weak_is_just_above_the_threshold():
    assert is_weak(THRESHOLD) and is_weak(THRESHOLD + WEAK_MARGIN - 0.001)
    assert not is_weak(THRESHOLD + WEAK_MARGIN) and not is_weak(0.9)
    assert not is_weak(THRESHOLD - 0.1)  # covered below it only when the material defines the term outright


def test_questions_per_day_count_every_day_of_the_window(services, instructor, klass):
    today = datetime.combine(datetime.now(timezone.utc).date(), time(0, 0, 1), tzinfo=timezone.utc)
    add_log(services, klass.id, "today", today)
    add_log(services, klass.id, "two days ago", today - timedelta(days=2), found=True)
    add_log(services, klass.id, "two days ago too", today - timedelta(days=2), found=True, weak=True)
    add_log(services, klass.id, "first day", today - timedelta(days=29))
    add_log(services, klass.id, "too old", today - timedelta(days=30))
    other = services.classes.create(instructor, "Other")
    add_log(services, other.id, "another class", today)

    overview = services.insights.overview(instructor, klass.id)
    assert len(overview.per_day) == 30 and overview.per_day[-1].day == today.date()
    by_day = {d.day: (d.asked, d.not_covered, d.weak) for d in overview.per_day}
    assert by_day[today.date()] == (1, 1, 0)
    assert by_day[(today - timedelta(days=2)).date()] == (2, 0, 1)
    assert by_day[(today - timedelta(days=29)).date()] == (1, 1, 0)
    assert by_day[(today - timedelta(days=1)).date()] == (0, 0, 0)
    assert sum(1 for d in overview.per_day if d.asked == 0) == 27
    assert (overview.asked, overview.not_covered, overview.weak) == (4, 2, 1)
    assert services.insights.overview(instructor, klass.id, days=1).asked == 1
    with pytest.raises(ValidationError, match="1 to"):
        services.insights.overview(instructor, klass.id, days=0)


def test_real_asks_record_the_question_its_asker_and_coverage(services, instructor, student, klass, monkeypatch):
    covered = services.chat.ask(student, klass.id, COVERED)
    missing = services.chat.ask(student, klass.id, MISSING)
    assert covered.found and not missing.found
    first, second = logs(services)
    assert (first.question, first.user_id, first.message_id, first.found) == (
        COVERED, student.user_id, covered.message_id, True)
    assert first.score is not None and first.weak is is_weak(first.score)
    assert first.sources and first.sources[0]["document"] == "lecture3.pdf" and first.sources[0]["page"] == 2
    assert (second.question, second.found, second.weak, second.sources) == (MISSING, False, False, [])

    monkeypatch.setattr("core.answers.coverage.WEAK_MARGIN", 10.0)  # every covered answer is now "weak"
    services.chat.ask(student, klass.id, COVERED)
    assert logs(services)[-1].weak is True

    overview = services.insights.overview(instructor, klass.id)
    assert (overview.asked, overview.not_covered, overview.weak) == (3, 1, 1 + bool(first.weak))
    groups = services.insights.question_groups(instructor, klass.id)
    assert {(g.representative, g.kind) for g in groups} >= {(MISSING, "not covered"), (COVERED, "weak")}
    assert "student@example.edu" not in repr(groups) and "Stu" not in repr(groups)


def test_old_rows_without_question_text_are_counted_not_listed(services, instructor, klass):
    add_log(services, klass.id, None, datetime.now(timezone.utc))
    assert services.insights.overview(instructor, klass.id).asked == 1
    assert services.insights.question_groups(instructor, klass.id) == []
    assert services.insights.export_csv(instructor, klass.id).count("\n") == 1  # the header alone


def test_same_wording_is_one_group_and_distinct_questions_stay_apart(services, instructor, klass):
    now = datetime.now(timezone.utc)
    for i, q in enumerate(["What is word2vec?", "what is  WORD2VEC?", "What is word2vec?", "When is the exam?"]):
        add_log(services, klass.id, q, now - timedelta(minutes=i))
    groups = services.insights.question_groups(instructor, klass.id)
    assert [(g.representative, g.count) for g in groups] == [("What is word2vec?", 3), ("When is the exam?", 1)]
    assert groups[0].variants == ("What is word2vec?",)  # one wording, whatever its case and spacing
    assert groups[0].last_asked == groups[0].asks[0].asked_at


@pytest.fixture(scope="module")
def minilm():
    return make_embedder("minilm")


@pytest.mark.model
def test_paraphrases_are_grouped_with_the_real_model(minilm):
    now = datetime.now(timezone.utc)
    questions = ["What is word2vec?", "Explain word2vec", "How does word2vec work?",
                 "TCP vs UDP?", "What is the difference between TCP and UDP?",
                 "When is the final exam?", "What is a closure in Python?", "What is a decorator in Python?",
                 "What is a list?", "What is a tuple?"]
    asks = [Ask(i, q, now - timedelta(minutes=i), False) for i, q in enumerate(questions)]
    groups = group_questions(asks, minilm)
    as_sets = sorted(sorted(g.variants) for g in groups)
    assert sorted(["Explain word2vec", "How does word2vec work?", "What is word2vec?"]) in as_sets
    assert sorted(["TCP vs UDP?", "What is the difference between TCP and UDP?"]) in as_sets
    for single in ("When is the final exam?", "What is a closure in Python?", "What is a decorator in Python?",
                   "What is a list?", "What is a tuple?"):
        assert [single] in as_sets, as_sets
    assert groups[0].count == 3


@pytest.mark.model
def test_the_service_groups_with_the_class_embedder(services, instructor, klass, minilm):
    insights = InsightsService(services.db, services.feedback, lambda: minilm)
    now = datetime.now(timezone.utc)
    for i, q in enumerate(["How do transformers use attention?", "explain the attention mechanism in transformers",
                           "What is photosynthesis?"]):
        add_log(services, klass.id, q, now - timedelta(minutes=i))
    groups = insights.question_groups(instructor, klass.id)
    assert [g.count for g in groups] == [2, 1]
    assert groups[1].representative == "What is photosynthesis?"


def test_unhelpful_answers_are_listed_without_names(services, instructor, student, klass):
    answer = services.chat.ask(student, klass.id, COVERED)
    services.feedback.rate(student, answer.message_id, False)
    [vote] = services.insights.unhelpful(instructor, klass.id)
    assert vote.question == COVERED and vote.answer == answer.text and not vote.helpful
    assert vote.sources[0].document == "lecture3.pdf"
    assert "student@example.edu" not in repr(vote)
    assert services.insights.overview(instructor, klass.id).unhelpful == 1
    services.feedback.rate(student, answer.message_id, True)
    assert services.insights.unhelpful(instructor, klass.id) == []


def test_most_cited_pages_outlive_their_document(services, instructor, student, klass):
    services.chat.ask(student, klass.id, COVERED)
    services.chat.ask(student, klass.id, "What does the cell membrane control?")
    services.chat.ask(student, klass.id, MISSING)  # cites nothing
    cited = services.insights.most_cited(instructor, klass.id)
    assert cited.documents[0].document == "lecture3.pdf" and cited.documents[0].count == 2
    assert not cited.documents[0].deleted
    counts = {(p.cited.document, p.cited.page): p.count for p in cited.pages}
    assert counts[("lecture3.pdf", 2)] >= 1 and counts[("lecture3.pdf", 1)] >= 1
    doc_id = cited.documents[0].document_id
    services.documents.delete(instructor, doc_id)
    after = services.insights.most_cited(instructor, klass.id)
    assert after.documents[0].document == "lecture3.pdf" and after.documents[0].deleted
    assert all(p.deleted for p in after.pages)


def test_csv_lists_questions_and_votes_without_names(services, instructor, student, klass):
    covered = services.chat.ask(student, klass.id, COVERED)
    services.feedback.rate(student, covered.message_id, True)
    services.chat.ask(student, klass.id, MISSING)
    services.chat.ask(student, klass.id, "=HYPERLINK(\"http://x.test\",\"click\")")
    text = services.insights.export_csv(instructor, klass.id)
    assert "student@example.edu" not in text and "Stu" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["question"] for r in rows] == [COVERED, MISSING, "'=HYPERLINK(\"http://x.test\",\"click\")"]
    assert rows[0]["status"] in ("answered", "weak") and rows[0]["helpful"] == "yes"
    assert "lecture3.pdf, p. 2" in rows[0]["sources"]
    assert (rows[1]["status"], rows[1]["helpful"], rows[1]["sources"]) == ("not covered", "", "")
    assert set(rows[0]) == {"asked_at_utc", "question", "status", "coverage_score", "sources", "helpful"}


def test_open_question_names_the_asker_and_is_logged(services, instructor, student, klass, caplog):
    answer = services.chat.ask(student, klass.id, MISSING)
    [group] = services.insights.question_groups(instructor, klass.id)
    with caplog.at_level(logging.INFO, logger="classgpt.events"):
        detail = services.insights.open_question(instructor, klass.id, group.asks[0].log_id)
    assert (detail.asker_name, detail.asker_email) == ("Stu", "student@example.edu")
    assert detail.question == MISSING and detail.status == "not covered" and detail.answer == answer.text
    [event] = [r for r in caplog.records if r.fields.get("event") == "insights_question_opened"]
    assert event.fields["user"] == "prof@example.edu" and event.fields["log_id"] == group.asks[0].log_id
    other = services.classes.create(instructor, "Other")
    with pytest.raises(NotFound):  # a question of another class, even one the actor teaches
        services.insights.open_question(instructor, other.id, group.asks[0].log_id)
    assert services.insights.open_question(SYSTEM, klass.id, group.asks[0].log_id).asker_name == "Stu"


def test_students_are_refused_every_insight(services, student, klass):
    services.chat.ask(student, klass.id, MISSING)
    log_id = logs(services)[0].id
    insights = services.insights
    for call in (lambda: insights.overview(student, klass.id), lambda: insights.question_groups(student, klass.id),
                 lambda: insights.unhelpful(student, klass.id), lambda: insights.most_cited(student, klass.id),
                 lambda: insights.open_question(student, klass.id, log_id),
                 lambda: insights.export_csv(student, klass.id)):
        with pytest.raises(PermissionDenied, match="instructor"):
            call()


def test_cleared_history_keeps_the_question_but_unlinks_the_asker(services, instructor, student, klass):
    services.chat.ask(student, klass.id, MISSING)
    services.chat.clear_history(student, klass.id)
    [group] = services.insights.question_groups(instructor, klass.id)
    assert group.representative == MISSING
    detail = services.insights.open_question(instructor, klass.id, group.asks[0].log_id)
    assert (detail.asker_name, detail.asker_email, detail.answer) == (None, None, None)
    assert services.insights.overview(instructor, klass.id).not_covered == 1


def test_deleted_account_questions_stay_unnamed(services, instructor, student, klass):
    services.chat.ask(student, klass.id, MISSING)
    services.accounts.delete_account(student, "battery-staple-7")
    assert logs(services)[0].user_id is None
    [group] = services.insights.question_groups(instructor, klass.id)
    detail = services.insights.open_question(instructor, klass.id, group.asks[0].log_id)
    assert detail.question == MISSING and detail.asker_email is None


def test_cli_prints_insights_json_and_csv(services, settings, instructor, student, klass, monkeypatch, capsys,
                                          tmp_path):
    services.chat.ask(student, klass.id, MISSING)
    services.chat.ask(student, klass.id, COVERED)
    assert run_core(["insights", "--class", str(klass.id), "--json"], settings, monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["asked"] == 2 and data["not_covered"] == 1 and len(data["per_day"]) == 30
    assert data["groups"][0]["question"] == MISSING and data["pages"][0]["document"] == "lecture3.pdf"

    assert run_core(["insights", "--class", str(klass.id), "--days", "7"], settings, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "last 7 days" in out and f"1x  {MISSING}  (not covered" in out and "lecture3.pdf, p. 2" in out

    target = tmp_path / "q.csv"
    assert run_core(["insights", "--class", str(klass.id), "--csv", str(target)], settings, monkeypatch) == 0
    assert "wrote 2 questions" in capsys.readouterr().out
    assert MISSING in target.read_text() and "student@example.edu" not in target.read_text()

    assert run_core(["insights", "--class", str(klass.id), "--as", "student@example.edu"], settings, monkeypatch) == 2
    assert "instructor" in capsys.readouterr().err
