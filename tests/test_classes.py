import pytest
from sqlalchemy import func, select

from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import ChatMessage, Class, Document
from core.services.actors import SYSTEM
from core.services.classes import JOIN_CODE_ALPHABET, JOIN_CODE_LEN
from tests.factories import make_pdf, upload


def _seen_by(services, actor, class_id):
    """The class as the actor's class list shows it (None when it is not there)."""
    return next((c for c in services.classes.list_for(actor) if c.id == class_id), None)


def test_create_makes_the_creator_instructor_with_a_join_code(services, instructor):
    info = services.classes.create(instructor, "  Biology   101 ", "Cells")
    assert info.name == "Biology 101" and info.role == "instructor" and info.can_manage
    assert len(info.join_code) == JOIN_CODE_LEN and set(info.join_code) <= set(JOIN_CODE_ALPHABET)
    assert [c.id for c in services.classes.list_for(instructor)] == [info.id]


def test_empty_name_is_refused(services, instructor):
    with pytest.raises(ValidationError, match="name"):
        services.classes.create(instructor, "   ")


def test_student_joins_by_code_and_sees_no_code(services, instructor, student):
    info = services.classes.create(instructor, "Bio")
    joined = services.classes.join(student, f" {info.join_code.lower()} ")
    assert joined.id == info.id and joined.role == "student" and joined.join_code is None
    assert [(c.role, c.join_code) for c in services.classes.list_for(student)] == [("student", None)]
    assert _seen_by(services, instructor, info.id).join_code == info.join_code
    services.classes.join(student, info.join_code)  # joining twice is harmless
    assert len(services.classes.list_for(student)) == 1


def test_wrong_join_code(services, student):
    with pytest.raises(NotFound, match="join code"):
        services.classes.join(student, "NOPE1234")


def test_outsiders_cannot_read_or_manage(services, instructor, student):
    info = services.classes.create(instructor, "Private")
    assert upload(services, instructor, info.id, "a.txt", b"Private lecture notes here.").ok
    assert services.classes.list_for(student) == []
    with pytest.raises(PermissionDenied, match="not enrolled"):
        services.documents.list(student, info.id)
    with pytest.raises(PermissionDenied):
        services.chat.ask(student, info.id, "anything?")
    with pytest.raises(PermissionDenied):
        services.classes.rename(student, info.id, "Mine now")
    with pytest.raises(PermissionDenied):
        services.classes.delete(student, info.id)
    with pytest.raises(PermissionDenied):
        upload(services, student, info.id, "b.txt", b"some text here")
    [doc] = services.documents.list(instructor, info.id)
    with pytest.raises(PermissionDenied):
        services.documents.download(student, doc.id)
    with pytest.raises(PermissionDenied):
        services.documents.delete(student, doc.id)
    assert _seen_by(services, instructor, info.id).name == "Private"
    assert [d.id for d in services.documents.list(instructor, info.id)] == [doc.id]


def test_students_cannot_rename_delete_or_upload(services, instructor, student):
    info = services.classes.create(instructor, "Bio")
    services.classes.join(student, info.join_code)
    with pytest.raises(PermissionDenied, match="Only an instructor"):
        services.classes.rename(student, info.id, "Mine now")
    with pytest.raises(PermissionDenied):
        services.classes.delete(student, info.id)
    with pytest.raises(PermissionDenied, match="upload"):
        upload(services, student, info.id, "a.txt", b"some text here")
    assert services.documents.list(instructor, info.id) == []
    assert _seen_by(services, instructor, info.id).name == "Bio"


def test_rename(services, instructor):
    info = services.classes.create(instructor, "Bio")
    assert services.classes.rename(instructor, info.id, "Biology", "new").name == "Biology"
    seen = _seen_by(services, instructor, info.id)
    assert (seen.name, seen.description) == ("Biology", "new")


def test_delete_removes_documents_chunks_chat_and_files(services, instructor):
    info = services.classes.create(instructor, "Bio")
    kept = services.classes.create(instructor, "Chemistry")
    res = upload(services, instructor, info.id, "cells.pdf", make_pdf(["Cells divide by mitosis."]))
    assert upload(services, instructor, kept.id, "ions.txt", b"Ions carry a charge.").ok
    assert res.ok and services.store.size(f"classes/{info.id}/documents/{res.document_id}")
    services.chat.ask(instructor, info.id, "How do cells divide?")
    services.chat.ask(instructor, kept.id, "What do ions carry?")
    assert services.classes.delete(instructor, info.id) == 1
    assert [k.split("/")[1] for k in services.store.list_keys()] == [str(kept.id)]
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.class_id == info.id)) == 0
        assert s.scalar(select(func.count()).select_from(ChatMessage).where(ChatMessage.class_id == info.id)) == 0
        assert s.scalar(select(func.count()).select_from(ChatMessage).where(ChatMessage.class_id == kept.id)) == 2
    assert services.documents.counts()["chunks"] == 1  # the other class's
    assert [c.id for c in services.classes.list_for(instructor)] == [kept.id]
    with pytest.raises(NotFound):
        services.documents.list(instructor, info.id)


def test_classes_made_before_accounts_stay_readable(services, instructor, student):
    # a class from the MVP era: no owner, no enrollments, marked by the migration that added accounts
    with services.db.transaction() as s:
        s.add(Class(name="Legacy class", pre_accounts=True))
    legacy = services.classes.list_for(SYSTEM)[0]
    upload(services, SYSTEM, legacy.id, "notes.txt", b"Osmosis moves water across membranes.")
    for user in (instructor, student):
        seen = services.classes.list_for(user)
        assert [(c.name, c.role) for c in seen] == [("Legacy class", "legacy")]
        assert services.chat.ask(user, legacy.id, "What moves water across membranes?").found
        with pytest.raises(PermissionDenied):
            upload(services, user, legacy.id, "x.txt", b"more text")


def test_a_class_made_without_an_owner_is_private_until_it_has_an_instructor(services, instructor, student):
    info = services.classes.create(SYSTEM, "Made by the operator")
    assert info.role == "operator" and len(info.join_code) == JOIN_CODE_LEN
    assert upload(services, SYSTEM, info.id, "notes.txt", b"Osmosis moves water across membranes.").ok
    for user in (instructor, student):  # not listed, not readable, not askable
        assert services.classes.list_for(user) == []
        with pytest.raises(PermissionDenied):
            services.documents.list(user, info.id)
        with pytest.raises(PermissionDenied):
            services.chat.ask(user, info.id, "What moves water across membranes?")
    services.classes.add_instructor(SYSTEM, info.id, "prof@example.edu")
    assert [(c.name, c.role) for c in services.classes.list_for(instructor)] == [("Made by the operator",
                                                                                   "instructor")]
    assert services.classes.list_for(student) == []  # students still join with the code
    services.classes.join(student, info.join_code)
    assert [c.role for c in services.classes.list_for(student)] == ["student"]
    with pytest.raises(PermissionDenied, match="add instructors"):
        services.classes.add_instructor(student, info.id, "student@example.edu")
    with pytest.raises(NotFound, match="register first"):
        services.classes.add_instructor(instructor, info.id, "ghost@example.edu")


def test_admins_see_every_class(services, instructor, student):
    private = services.classes.create(instructor, "Private")
    services.accounts.set_admin(SYSTEM, "student@example.edu")
    admin = services.accounts.lookup(SYSTEM, "student@example.edu").actor()
    assert [(c.name, c.role) for c in services.classes.list_for(admin)] == [("Private", "operator")]
    assert services.documents.list(admin, private.id) == []
    services.accounts.set_admin(SYSTEM, "student@example.edu", False)  # revoked: at once
    with pytest.raises(PermissionDenied):
        services.documents.list(admin, private.id)


def test_wrong_join_codes_are_throttled(services, student, instructor):
    from core.errors import TooManyAttempts
    from core.services.classes import JOIN_ACCOUNT

    info = services.classes.create(instructor, "Bio")
    for i in range(JOIN_ACCOUNT.free + 1):
        with pytest.raises(NotFound):
            services.classes.join(student, f"WRONG{i:03d}", "203.0.113.5")
    with pytest.raises(TooManyAttempts, match="join a class"):
        services.classes.join(student, info.join_code, "203.0.113.5")  # even the right code must wait


def test_a_class_from_before_accounts_stays_private_once_it_had_an_instructor(services, instructor, student):
    """Giving a legacy class an instructor ends the legacy rule for good: when that instructor
    leaves, what they added while it was private does not become readable by everyone."""
    with services.db.transaction() as s:
        s.add(Class(name="Old class", pre_accounts=True))
    [legacy] = services.classes.list_for(SYSTEM)
    services.classes.add_instructor(SYSTEM, legacy.id, "prof@example.edu")
    key = upload(services, instructor, legacy.id, "exam-key.txt", b"Confidential exam key: 42.")
    assert services.classes.list_for(student) == []
    services.accounts.delete_user(SYSTEM, "prof@example.edu")
    assert services.classes.list_for(student) == []
    with pytest.raises(PermissionDenied):
        services.documents.download(student, key.document_id)


def test_a_new_class_with_a_reused_id_gets_its_own_index(services, instructor, student):
    """SQLite gives a deleted class's id to the next class: the old class's cached index must
    never answer the new class's questions."""
    victim = services.classes.create(instructor, "Victim")
    upload(services, instructor, victim.id, "diary.txt", b"Private diary: my bank PIN is 4321.")
    assert services.chat.ask(instructor, victim.id, "What is the bank PIN?").found  # its index is cached
    services.classes.delete(instructor, victim.id)
    mine = services.classes.create(student, "Mine")
    upload(services, student, mine.id, "garden.txt", b"Tomatoes like sun and water.")
    answer = services.chat.ask(student, mine.id, "private diary bank PIN")
    assert all(c.document == "garden.txt" for c in answer.citations) and "4321" not in answer.text


def test_joining_a_class_without_an_instructor_says_so(services, student):
    orphan = services.classes.create(SYSTEM, "No teacher yet")
    with pytest.raises(ValidationError, match="no instructor yet"):
        services.classes.join(student, orphan.join_code)
    assert services.classes.list_for(student) == []


def test_descriptions_and_names_are_bounded_and_one_line(services, instructor):
    info = services.classes.create(instructor, "Bio\n\u202elogy\x00", "d" * 2000)
    assert info.name == "Bio logy"
    with pytest.raises(ValidationError, match="at most 2,000"):
        services.classes.rename(instructor, info.id, "Bio", "d" * 2001)
