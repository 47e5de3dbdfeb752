"""Gold questions: an instructor's checked answers. Each names the document and pages that should
answer it; a run asks every question as a student of the class sees it (instructors-only and
unreleased documents left out) and records whether a right page was cited first, in the top five,
or not at all. Runs write no chat history and no query log: a check is not a student asking.

A change of the class's material (a document ready, deleted, hidden or shown: MaterialChanged, wired
to `rerun` in build_services) runs its checks again, so a question that stops being answered after
an upload or a delete is flagged until it is answered again (docs/gold-questions.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.answers.model import CitedPage
from core.database import Database
from core.errors import NotFound, ValidationError
from core.events import log_event
from core.models import Document, GoldQuestion, GoldResult, utcnow
from core.services.actors import SYSTEM, Actor
from core.services.chat import MAX_SOURCES, ChatService
from core.services.permissions import require_instructor
from core.text import one_line

MAX_QUESTION_CHARS = 500  # a student's question, not an essay
MAX_PER_CLASS = 50  # every upload and delete runs them all: keep that a second or two
CHECKED = MAX_SOURCES  # the sources a student's answer shows; "top 5" is all of them
FIRST, TOP5, MISSED = "first", "top5", "missed"
_RANGE = re.compile(r"(\d+)(?:\s*[-\u2013]\s*(\d+))?")


@dataclass(frozen=True)
class GoldInfo:
    """A gold question with its latest result (status None: not run yet)."""

    id: int
    class_id: int
    question: str
    document_id: int | None  # None: the document was deleted (document_name still names it)
    document_name: str
    pages: tuple[int, ...]  # 1-based page indexes; () accepts any page of the document
    created_at: datetime
    status: str | None = None  # first | top5 | missed
    previous_status: str | None = None
    cited: tuple[CitedPage, ...] = ()
    ran_at: datetime | None = None
    last_passed_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.status in (FIRST, TOP5)

    @property
    def stopped(self) -> bool:
        """Missed now, though a run before cited a right page: something changed the answer."""
        return self.status == MISSED and self.last_passed_at is not None

    @property
    def expected(self) -> str:
        deleted = " (deleted)" if self.document_id is None else ""
        name = f"{self.document_name}{deleted}"
        if not self.pages:
            return f"{name}, any page"
        if self.document_name.lower().endswith(".pptx"):  # a deck's pages are its slides (source_label)
            return f"{name}, slide{'s' if len(self.pages) > 1 else ''} {format_pages(self.pages)}"
        return f"{name}, p. {format_pages(self.pages)}"


def format_pages(pages: tuple[int, ...] | list[int]) -> str:
    """[3, 4, 5, 7] as "3-5, 7": the form parse_pages reads."""
    parts: list[tuple[int, int]] = []
    for page in sorted(set(pages)):
        if parts and page == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], page)
        else:
            parts.append((page, page))
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def parse_pages(text: str | None, page_count: int, document: str) -> list[int]:
    """ "3", "3-5, 7" → sorted page indexes within the document; "" → [] (any page)."""
    text = (text or "").strip()
    if not text:
        return []
    if page_count <= 0:
        raise ValidationError(f"{document} has no pages (a text file): leave the pages empty to accept any passage.")
    pages: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        match = _RANGE.fullmatch(part)
        if not match:
            raise ValidationError(f"Pages look like 3, 3-5 or 3-5, 7; “{part}” is not a page or a range.")
        first, last = int(match[1]), int(match[2] or match[1])
        if first < 1:
            raise ValidationError("Pages are counted from 1, the document's first page.")
        if last < first:
            raise ValidationError(f"“{part}” runs backwards: write {last}-{first}.")
        if last > page_count:
            raise ValidationError(f"{document} has {page_count} page{'s' if page_count != 1 else ''}; "
                                  f"page {last} is not one of them.")
        pages.update(range(first, last + 1))
    return sorted(pages)


def judge(document_id: int | None, pages: tuple[int, ...] | list[int], cited: list[CitedPage]) -> str:
    """first / top5 / missed: where a right page is among the citations."""
    accepted = set(pages)
    for rank, c in enumerate(cited[:CHECKED]):
        if document_id is not None and c.document_id == document_id and (not accepted or c.page in accepted):
            return FIRST if rank == 0 else TOP5
    return MISSED


class GoldService:
    def __init__(self, db: Database, chat: ChatService):
        self.db = db
        self.chat = chat

    def add(self, actor: Actor, class_id: int, question: str, document: int | str, pages: str = "") -> GoldInfo:
        """A gold question: `document` is the document's id or its exact name; pages like "3-5, 7"
        (empty: any page). Not run yet: run() (or the next upload) gives its first result."""
        question = one_line(question)
        if not question:
            raise ValidationError("Write the question a student would ask.")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(f"Checked questions are at most {MAX_QUESTION_CHARS} characters; "
                                  f"this one has {len(question)}.")
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "add checked questions")
            count = s.scalar(select(func.count()).select_from(GoldQuestion).where(GoldQuestion.class_id == class_id))
            if count >= MAX_PER_CLASS:
                raise ValidationError(f"A class has at most {MAX_PER_CLASS} checked questions; delete one first.")
            doc = _document(s, class_id, document)
            if doc.status != "ready":
                raise ValidationError(f"{doc.filename} is not ready yet ({doc.status}); add the question once it is.")
            if doc.instructors_only:
                raise ValidationError(f"{doc.filename} is for instructors only: students' answers never cite it, "
                                      "so this check could never pass.")
            row = GoldQuestion(class_id=class_id, question=question, document_id=doc.id, document_name=doc.filename,
                               pages=parse_pages(pages, doc.page_count, doc.filename), created_by=actor.user_id)
            s.add(row)
            s.flush()
            info = _info(row, None)
        log_event("gold_add", user=actor.email, class_id=class_id, gold_id=info.id, document_id=info.document_id)
        return info

    def list(self, actor: Actor, class_id: int) -> list[GoldInfo]:
        """The class's gold questions with their latest results, oldest first."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see checked questions")
        return self._list(class_id)

    def delete(self, actor: Actor, gold_id: int) -> None:
        with self.db.transaction() as s:
            row = s.get(GoldQuestion, gold_id)
            if row is None:
                raise NotFound(f"Checked question {gold_id} does not exist.")
            require_instructor(s, actor, row.class_id, "delete checked questions")
            s.delete(row)
        log_event("gold_delete", user=actor.email, gold_id=gold_id)

    def run(self, actor: Actor, class_id: int) -> list[GoldInfo]:
        """Ask every gold question as a student of the class would; record and return the results."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "run checked questions")
        return self._run(class_id)

    # -- internals ------------------------------------------------------------------------------

    def rerun(self, class_id: int) -> None:
        """MaterialChanged's listener: the class's material changed, so its checks run again."""
        self._run(class_id)

    def _run(self, class_id: int) -> list[GoldInfo]:
        with self.db.transaction() as s:
            questions = s.execute(select(GoldQuestion.id, GoldQuestion.question, GoldQuestion.document_id,
                                         GoldQuestion.pages).where(GoldQuestion.class_id == class_id)).all()
        if not questions:
            return []
        outcomes = {}
        for gold_id, question, document_id, pages in questions:
            # as a student: SYSTEM only because the caller's right was checked (or it is a listener)
            cited = [c.cited_page for c in self.chat.sources_for(SYSTEM, class_id, question, as_student=True)[:CHECKED]]
            outcomes[gold_id] = (judge(document_id, pages, cited), cited)
        now = utcnow()
        with self.db.transaction() as s:
            for gold_id, (status, cited) in outcomes.items():
                if s.get(GoldQuestion, gold_id) is None:
                    continue  # deleted while the run was asking
                result = s.get(GoldResult, gold_id) or GoldResult(question_id=gold_id)
                result.previous_status = result.status
                result.status = status
                result.cited = [c.to_dict() for c in cited]
                result.ran_at = now
                if status != MISSED:
                    result.last_passed_at = now
                s.add(result)
        statuses = [status for status, _ in outcomes.values()]
        log_event("gold_run", class_id=class_id, questions=len(statuses), first=statuses.count(FIRST),
                  top5=statuses.count(TOP5), missed=statuses.count(MISSED))
        return self._list(class_id)

    def _list(self, class_id: int) -> list[GoldInfo]:
        with self.db.transaction() as s:
            rows = s.execute(select(GoldQuestion, GoldResult)
                             .outerjoin(GoldResult, GoldResult.question_id == GoldQuestion.id)
                             .where(GoldQuestion.class_id == class_id).order_by(GoldQuestion.id)).all()
            return [_info(q, r) for q, r in rows]


def _document(s: Session, class_id: int, document: int | str) -> Document:
    """The class's document by id or exact name; another class's document is not found."""
    if isinstance(document, int):
        doc = s.get(Document, document)
        if doc is None or doc.class_id != class_id:
            raise NotFound(f"Document {document} is not in this class.")
        return doc
    name = one_line(document)
    found = s.scalars(select(Document).where(Document.class_id == class_id, Document.filename == name)
                      .limit(2)).all()
    if not found:
        raise NotFound(f"No document named “{name}” in this class.")
    if len(found) > 1:
        raise ValidationError(f"More than one document is named “{name}”: give its id instead.")
    return found[0]


def _info(q: GoldQuestion, r: GoldResult | None) -> GoldInfo:
    info = GoldInfo(q.id, q.class_id, q.question, q.document_id, q.document_name, tuple(q.pages or ()),
                    q.created_at)
    if r is None:
        return info
    cited = tuple(CitedPage.from_dict(c) for c in (r.cited or []))
    return GoldInfo(**{**info.__dict__, "status": r.status, "previous_status": r.previous_status, "cited": cited,
                       "ran_at": r.ran_at, "last_passed_at": r.last_passed_at})
