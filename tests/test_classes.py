import pytest

from core.errors import NotFound, PermissionDenied, ValidationError
from core.models import Class
from core.services.actors import SYSTEM
from core.services.classes import JOIN_CODE_ALPHABET, JOIN_CODE_LEN
from tests.factories import make_pdf


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
    assert [c.role for c in services.classes.list_for(student)] == ["student"]
    services.classes.join(student, info.join_code)  # joining twice is harmless
    assert len(services.classes.list_for(student)) == 1


def test_wrong_join_code(services, student):
    with pytest.raises(NotFound, match="join code"):
        services.classes.join(student, "NOPE1234")


def test_outsiders_cannot_read_or_manage(services, instructor, student):
    info = services.classes.create(instructor, "Private")
    assert services.classes.list_for(student) == []
    with pytest.raises(PermissionDenied, match="not enrolled"):
        services.classes.get(student, info.id)
    with pytest.raises(PermissionDenied):
        services.chat.ask(student, info.id, "anything?")
    with pytest.raises(PermissionDenied):
        services.documents.list(student, info.id)


def test_students_cannot_rename_delete_or_upload(services, instructor, student):
    info = services.classes.create(instructor, "Bio")
    services.classes.join(student, info.join_code)
    with pytest.raises(PermissionDenied, match="Only an instructor"):
        services.classes.rename(student, info.id, "Mine now")
    with pytest.raises(PermissionDenied):
        services.classes.delete(student, info.id)
    with pytest.raises(PermissionDenied, match="upload"):
        services.documents.upload(student, info.id, "a.txt", b"some text here")
    assert services.documents.list(instructor, info.id) == []


def test_rename(services, instructor):
    info = services.classes.create(instructor, "Bio")
    assert services.classes.rename(instructor, info.id, "Biology", "new").name == "Biology"
    assert services.classes.get(instructor, info.id).description == "new"


def test_delete_removes_documents_chunks_and_files(services, instructor):
    info = services.classes.create(instructor, "Bio")
    res = services.documents.upload(instructor, info.id, "cells.pdf", make_pdf(["Cells divide by mitosis."]))
    assert res.ok and services.store.exists(f"classes/{info.id}/documents/{res.document_id}")
    services.chat.ask(instructor, info.id, "How do cells divide?")
    assert services.classes.delete(instructor, info.id) == 1
    assert services.store.list_keys() == []
    assert services.documents.counts()["chunks"] == 0
    with pytest.raises(NotFound):
        services.classes.get(instructor, info.id)


def test_classes_made_before_accounts_stay_readable(services, instructor, student):
    # a class from the MVP era: no owner, no enrollments
    with services.db.transaction() as s:
        s.add(Class(name="Legacy class"))
    legacy = services.classes.list_for(SYSTEM)[0]
    services.documents.upload(SYSTEM, legacy.id, "notes.txt", b"Osmosis moves water across membranes.")
    for user in (instructor, student):
        seen = services.classes.list_for(user)
        assert [(c.name, c.role) for c in seen] == [("Legacy class", "legacy")]
        assert services.chat.ask(user, legacy.id, "What moves water across membranes?").found
        with pytest.raises(PermissionDenied):
            services.documents.upload(user, legacy.id, "x.txt", b"more text")
