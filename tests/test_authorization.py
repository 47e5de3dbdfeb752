"""The authorization matrix: every public service method, called by everyone who must be refused.

The callers: a stranger (a registered account in no class), a student of another class, a student
of the same class (for instructor and admin actions), a logged-out caller (no user id) and an
unknown user id (an account that does not exist, or no longer does). Each refused call raises
PermissionDenied or NotFound and changes nothing. The services' public methods are enumerated
here, so a method added later without a row in MATRIX (or a reason in PUBLIC) fails this test.
"""
from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core.errors import NotFound, PermissionDenied
from core.models import AnswerFeedback, Base, Class, Document, Enrollment, QueryLog, User
from core.services.accounts import AccountService
from core.services.actors import SYSTEM, Actor
from core.services.chat import ChatService
from core.services.classes import ClassService
from core.services.documents import DocumentService
from core.services.feedback import FeedbackService
from core.services.gold import GoldService
from core.services.ingestion import IngestionService
from core.services.insights import InsightsService
from core.services.status import StatusService
from tests.factories import make_pdf, upload

SERVICES = {"accounts": AccountService, "classes": ClassService, "documents": DocumentService,
            "chat": ChatService, "feedback": FeedbackService, "insights": InsightsService, "status": StatusService,
            "gold": GoldService, "ingestion": IngestionService}

# public by nature, with the reason: they take credentials or a session's secret token, or give
# aggregate numbers with no id in them
PUBLIC = {
    "accounts.register": "anyone may create an account; it grants nothing",
    "accounts.authenticate": "takes the password itself (throttled: test_accounts)",
    "accounts.log_in": "takes the password itself (throttled: test_accounts)",
    "accounts.resume": "takes the session's secret token",
    "accounts.log_out": "takes the session's secret token",
    "accounts.count": "a number for the Status page",
    "classes.count": "a number for the Status page",
    "documents.counts": "numbers for the Status page",
    "chat.latency_stats": "percentiles for the Status page",
    "gold.rerun": "the listener of a class's material changing (after a permitted upload, delete or hide)",
    "ingestion.unsupported_reason": "judges a filename and a size the caller gives; reads nothing",
    # the job code and the operator's view: called by runners and the CLI, never with a user's actor
    "ingestion.run_job": "the job code a runner calls with a job id; it acts for the job's own uploader",
    "ingestion.resume": "the app's start takes up its stopped predecessor's jobs; no actor, no data out",
    "ingestion.close": "this process's runner takes no more jobs; no data out",
    "ingestion.cancel_waiting": "runs in the caller's transaction: documents.delete, after its own check",
    "ingestion.listing": "the operator's `python -m core jobs`",
    "ingestion.wait": "follows job ids the caller got from submit()",
    "ingestion.wait_for": "follows the upload the caller got from submit()",
    "ingestion.unfinished": "job ids for a runner starting up",
    "ingestion.summary": "numbers for the Status page",
    "ingestion.workers": "a number for the Status page and `ingest`",
}


@dataclass
class World:
    services: object
    prof: Actor  # instructor of `klass`
    classmate: Actor  # student of `klass`
    stranger: Actor  # registered, in no class
    other_student: Actor  # student of `other` only
    klass: int
    other: int
    legacy: int  # made before accounts: readable by every signed-in account, by nobody else
    document: int
    legacy_document: int
    answer: int  # the classmate's answer (chat message id) in `klass`
    gold: int = 0  # the instructor's checked question in `klass`


@pytest.fixture
def world(services, fast_bcrypt) -> World:
    svc = services
    reg = lambda email: svc.accounts.register(email, "correct-horse-9", email.split("@")[0]).actor()  # noqa: E731
    prof, classmate, stranger, other_student, other_prof = (
        reg(e) for e in ("prof@x.edu", "mate@x.edu", "stranger@x.edu", "other@x.edu", "oprof@x.edu"))
    klass = svc.classes.create(prof, "Private")
    other = svc.classes.create(other_prof, "Other")
    svc.classes.join(classmate, klass.join_code)
    svc.classes.join(other_student, other.join_code)
    with svc.db.transaction() as s:
        legacy = Class(name="Legacy", pre_accounts=True, join_code="LEGACY22")
        s.add(legacy)
        s.flush()
        legacy_id = legacy.id
    pdf = make_pdf(["Mitochondria make ATP.", "Ribosomes build proteins."])
    document = upload(svc, prof, klass.id, "bio.pdf", pdf).document_id
    legacy_document = upload(svc, SYSTEM, legacy_id, "old.pdf", pdf).document_id
    svc.chat.ask(classmate, klass.id, "What makes ATP?")
    answer = svc.chat.history(classmate, klass.id)[-1].id
    svc.feedback.rate(classmate, answer, True)  # a vote for the refused callers to leave alone
    gold = svc.gold.add(prof, klass.id, "What makes ATP?", document, "1").id
    return World(svc, prof, classmate, stranger, other_student, klass.id, other.id, legacy_id, document,
                 legacy_document, answer, gold)


Call = Callable[[World, Actor], object]

# who the method is for: "reader" (any member of the class), "instructor", "admin", "operator",
# "account" (any signed-in account, acting on itself or on something it is given the right to)
MATRIX: dict[str, tuple[str, Call]] = {
    "accounts.log_out_everywhere": ("account", lambda w, a: w.services.accounts.log_out_everywhere(a)),
    "accounts.change_password": ("account", lambda w, a: w.services.accounts.change_password(
        a, "correct-horse-9", "Another-horse-battery-10")),
    "accounts.delete_account": ("account", lambda w, a: w.services.accounts.delete_account(a, "correct-horse-9")),
    "accounts.lookup": ("admin", lambda w, a: w.services.accounts.lookup(a, "prof@x.edu")),
    "accounts.set_admin": ("operator", lambda w, a: w.services.accounts.set_admin(a, "stranger@x.edu")),
    "accounts.revoke_sessions": ("admin", lambda w, a: w.services.accounts.revoke_sessions(a, "prof@x.edu")),
    "accounts.delete_user": ("admin", lambda w, a: w.services.accounts.delete_user(a, "prof@x.edu")),
    "classes.create": ("account", lambda w, a: w.services.classes.create(a, "Made by a caller")),
    "classes.join": ("account", lambda w, a: w.services.classes.join(a, "LEGACY22")),
    "classes.add_instructor": ("instructor", lambda w, a: w.services.classes.add_instructor(
        a, w.klass, "stranger@x.edu")),
    "classes.list_for": ("account", lambda w, a: w.services.classes.list_for(a)),
    "classes.rename": ("instructor", lambda w, a: w.services.classes.rename(a, w.klass, "Taken over")),
    "classes.delete": ("instructor", lambda w, a: w.services.classes.delete(a, w.klass)),
    "classes.roster": ("instructor", lambda w, a: w.services.classes.roster(a, w.klass)),
    "classes.rotate_join_code": ("instructor", lambda w, a: w.services.classes.rotate_join_code(a, w.klass)),
    "ingestion.submit": ("instructor", lambda w, a: w.services.ingestion.submit(a, w.klass, "y.txt", b"Other text.")),
    "documents.list": ("reader", lambda w, a: w.services.documents.list(a, w.klass)),
    "documents.failures": ("instructor", lambda w, a: w.services.documents.failures(a, w.klass)),
    "documents.download": ("reader", lambda w, a: w.services.documents.download(a, w.document)),
    "documents.download_url": ("reader", lambda w, a: w.services.documents.download_url(a, w.document)),
    "documents.page_preview": ("reader", lambda w, a: w.services.documents.page_preview(a, w.document, 1, 100)),
    "documents.page_text": ("reader", lambda w, a: w.services.documents.page_text(a, w.document, 1)),
    # (False, None): the allowed-callers run must leave the document visible for the rows after it
    "documents.set_visibility": ("instructor", lambda w, a: w.services.documents.set_visibility(
        a, w.document, False, None)),
    "documents.delete": ("instructor", lambda w, a: w.services.documents.delete(a, w.document)),
    # "reader" and more: only the answer's own asker may rate it (test_feedback). Listed before
    # chat.clear_history: the allowed-callers test runs the rows in order, and clearing removes the answer
    "feedback.rate": ("reader", lambda w, a: w.services.feedback.rate(a, w.answer, False)),
    "feedback.votes": ("reader", lambda w, a: w.services.feedback.votes(a, w.klass)),
    "feedback.for_class": ("instructor", lambda w, a: w.services.feedback.for_class(a, w.klass)),
    "ingestion.for_class": ("instructor", lambda w, a: w.services.ingestion.for_class(a, w.klass)),
    "insights.overview": ("instructor", lambda w, a: w.services.insights.overview(a, w.klass)),
    "insights.question_groups": ("instructor", lambda w, a: w.services.insights.question_groups(a, w.klass)),
    "insights.unhelpful": ("instructor", lambda w, a: w.services.insights.unhelpful(a, w.klass)),
    "insights.most_cited": ("instructor", lambda w, a: w.services.insights.most_cited(a, w.klass)),
    "insights.open_question": ("instructor", lambda w, a: w.services.insights.open_question(
        a, w.klass, _first_question(w))),
    "insights.export_csv": ("instructor", lambda w, a: w.services.insights.export_csv(a, w.klass)),
    "chat.ask": ("reader", lambda w, a: w.services.chat.ask(a, w.klass, "What makes ATP?")),
    "chat.ask_stream": ("reader", lambda w, a: w.services.chat.ask_stream(a, w.klass, "What makes ATP?")),
    "chat.history": ("reader", lambda w, a: w.services.chat.history(a, w.klass)),
    "chat.clear_history": ("reader", lambda w, a: w.services.chat.clear_history(a, w.klass)),
    "chat.sources_for": ("reader", lambda w, a: w.services.chat.sources_for(a, w.klass, "What makes ATP?")),
    "gold.add": ("instructor", lambda w, a: w.services.gold.add(a, w.klass, "Where is ATP made?", w.document, "1")),
    "gold.list": ("instructor", lambda w, a: w.services.gold.list(a, w.klass)),
    "gold.run": ("instructor", lambda w, a: w.services.gold.run(a, w.klass)),
    "gold.delete": ("instructor", lambda w, a: w.services.gold.delete(a, w.gold)),
    "status.report": ("admin", lambda w, a: w.services.status.report(a)),
    # last: the allowed-callers test runs the rows in order, and this takes the classmate out
    "classes.remove_member": ("instructor", lambda w, a: w.services.classes.remove_member(
        a, w.klass, w.classmate.user_id)),
}

def _first_question(w: World) -> int:
    """The classmate's question in `klass`, as logged for the instructor's insights."""
    with w.services.db.transaction() as s:
        return s.scalar(select(func.min(QueryLog.id)).where(QueryLog.class_id == w.klass))


LEGACY_READS: dict[str, Call] = {  # the legacy rule, for signed-in accounts only
    "documents.list": lambda w, a: w.services.documents.list(a, w.legacy),
    "documents.download": lambda w, a: w.services.documents.download(a, w.legacy_document),
    "documents.page_preview": lambda w, a: w.services.documents.page_preview(a, w.legacy_document, 1, 100),
    "chat.ask": lambda w, a: w.services.chat.ask(a, w.legacy, "What makes ATP?"),
    "chat.ask_stream": lambda w, a: w.services.chat.ask_stream(a, w.legacy, "What makes ATP?"),
    "chat.history": lambda w, a: w.services.chat.history(a, w.legacy),
    "chat.sources_for": lambda w, a: w.services.chat.sources_for(a, w.legacy, "What makes ATP?"),
}


def public_methods() -> set[str]:
    return {f"{name}.{method}" for name, cls in SERVICES.items()
            for method, _ in inspect.getmembers(cls, inspect.isfunction) if not method.startswith("_")}


def callers(w: World, kind: str) -> dict[str, Actor]:
    """Everyone who must be refused a method of this kind."""
    outsiders = {"logged-out": Actor(user_id=None, email="", name=""),
                 "unknown user id": Actor(user_id=uuid.uuid4(), email="ghost@x.edu", is_admin=True)}
    if kind == "account":
        return outsiders
    outsiders |= {"stranger": w.stranger, "student of another class": w.other_student}
    if kind in ("instructor", "admin", "operator"):
        outsiders["same-class student"] = w.classmate
    if kind in ("admin", "operator"):
        outsiders["instructor"] = w.prof
    if kind == "operator":
        w.services.accounts.set_admin(SYSTEM, "oprof@x.edu")
        outsiders["administrator"] = w.services.accounts.lookup(SYSTEM, "oprof@x.edu").actor()
    return outsiders


def fingerprint(w: World) -> dict:
    """Everything a refused call must leave as it was."""
    with w.services.db.transaction() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                  if t.name not in ("throttle", "user_sessions", "query_log")}
        return {"counts": counts,
                "classes": sorted(s.execute(select(Class.id, Class.name, Class.user_id, Class.join_code)).all()),
                "admins": sorted(s.scalars(select(User.email).where(User.is_admin)).all()),
                "enrollments": sorted((e.class_id, str(e.user_id), e.role) for e in s.scalars(select(Enrollment))),
                "documents": sorted(s.scalars(select(Document.id)).all()),
                "votes": sorted((f.message_id or 0, str(f.user_id), f.helpful)
                                for f in s.scalars(select(AnswerFeedback)))}


def test_every_public_method_is_in_the_matrix():
    assert public_methods() == set(MATRIX) | set(PUBLIC), (
        "add the new method to MATRIX (who it is for) or to PUBLIC (why anyone may call it)")


@pytest.mark.parametrize("method", sorted(MATRIX))
def test_everyone_who_must_be_refused_is_refused_and_nothing_changes(world, method):
    kind, call = MATRIX[method]
    before = fingerprint(world)
    for who, actor in callers(world, kind).items():
        if method == "classes.list_for":
            assert call(world, actor) == [], f"{method} listed classes for {who}"
            continue
        with pytest.raises((PermissionDenied, NotFound)):
            call(world, actor)
            pytest.fail(f"{method} did not refuse {who}")
        after = fingerprint(world)
        after["admins"] = [a for a in after["admins"] if a != "oprof@x.edu"]  # made by callers() itself
        assert after == before, f"{method} refused {who} but changed something"


@pytest.mark.parametrize("method", sorted(LEGACY_READS))
def test_legacy_classes_need_a_real_account(world, method):
    call = LEGACY_READS[method]
    call(world, world.stranger)  # any signed-in account reads a class from before accounts
    for actor in (Actor(user_id=None, email=""), Actor(user_id=uuid.uuid4(), email="ghost@x.edu")):
        with pytest.raises(PermissionDenied, match="Log in"):
            call(world, actor)


def test_the_allowed_callers_are_allowed(world):
    """The matrix refuses the right people, not everyone: each kind's own caller gets through."""
    allowed = {"reader": world.classmate, "instructor": world.prof, "admin": SYSTEM, "account": world.stranger}
    for method, (kind, call) in MATRIX.items():
        if kind in allowed and method not in ("classes.delete", "documents.delete", "accounts.delete_account",
                                               "accounts.delete_user", "accounts.change_password"):
            call(world, allowed[kind])
