"""A class's roster, removing members and rotating the join code: the service and its commands."""
from __future__ import annotations

import json

import pytest

from core.errors import NotFound, PermissionDenied, ValidationError
from core.services.actors import SYSTEM
from core.services.classes import JOIN_CODE_ALPHABET, JOIN_CODE_LEN
from tests.test_cli import env, run  # noqa: F401
from tests.factories import upload


@pytest.fixture
def klass(services, instructor, student):
    info = services.classes.create(instructor, "Biology 101")
    services.classes.join(student, info.join_code)
    return info


def test_roster_lists_members_with_their_last_question(services, instructor, student, klass):
    assert upload(services, instructor, klass.id, "cells.txt", b"Mitochondria make ATP in the cell.").ok
    services.chat.ask(student, klass.id, "What makes ATP?")
    services.chat.ask(student, klass.id, "Where is ATP made?")
    history = services.chat.history(student, klass.id)
    questions = [m.created_at for m in history if m.role == "user"]
    prof, stu = services.classes.roster(instructor, klass.id)
    assert (prof.email, prof.role, prof.name, prof.last_question) == ("prof@example.edu", "instructor", "Prof", None)
    assert (stu.email, stu.role, stu.name) == ("student@example.edu", "student", "Stu")
    # the latest of the student's own questions, not the answer written after it
    assert len(questions) == 2 and stu.last_question == questions[-1]
    assert history[-1].role == "assistant"
    assert stu.joined >= prof.joined and stu.joined.tzinfo is not None
    assert [m.email for m in services.classes.roster(SYSTEM, klass.id)] == [prof.email, stu.email]


def test_last_question_is_per_class(services, instructor, student, klass):
    other = services.classes.create(instructor, "Chemistry")
    services.classes.join(student, other.join_code)
    upload(services, instructor, other.id, "acids.txt", b"Acids donate protons to bases.")
    services.chat.ask(student, other.id, "What do acids donate?")
    assert [m.last_question for m in services.classes.roster(instructor, klass.id)] == [None, None]
    assert services.classes.roster(instructor, other.id)[1].last_question is not None


def test_students_and_outsiders_cannot_see_or_change_the_roster(services, instructor, student, klass):
    outsider = services.accounts.register("out@example.edu", "correct-horse-9", "Out").actor()
    for actor in (student, outsider):
        with pytest.raises(PermissionDenied):
            services.classes.roster(actor, klass.id)
        with pytest.raises(PermissionDenied):
            services.classes.remove_member(actor, klass.id, student.user_id)
        with pytest.raises(PermissionDenied):
            services.classes.rotate_join_code(actor, klass.id)
    assert len(services.classes.roster(instructor, klass.id)) == 2
    assert services.classes.list_for(instructor)[0].join_code == klass.join_code


def test_a_removed_student_loses_access(services, instructor, student, klass):
    upload(services, instructor, klass.id, "cells.txt", b"Mitochondria make ATP in the cell.")
    services.chat.ask(student, klass.id, "What makes ATP?")
    removed = services.classes.remove_member(instructor, klass.id, student.user_id)
    assert removed.email == "student@example.edu" and removed.role == "student"
    assert [m.email for m in services.classes.roster(instructor, klass.id)] == ["prof@example.edu"]
    assert services.classes.list_for(student) == []
    for call in (lambda: services.documents.list(student, klass.id),
                 lambda: services.chat.ask(student, klass.id, "What makes ATP?"),
                 lambda: services.chat.history(student, klass.id)):
        with pytest.raises(PermissionDenied, match="not enrolled"):
            call()
    with pytest.raises(NotFound, match="not in"):
        services.classes.remove_member(instructor, klass.id, student.user_id)
    services.classes.join(student, klass.join_code)  # the code still works: rotate it to keep them out
    assert [c.role for c in services.classes.list_for(student)] == ["student"]


def test_the_last_instructor_cannot_be_removed(services, instructor, student, klass):
    with pytest.raises(ValidationError, match="You are the only instructor"):
        services.classes.remove_member(instructor, klass.id, instructor.user_id)
    with pytest.raises(ValidationError, match="Prof is the only instructor"):
        services.classes.remove_member(SYSTEM, klass.id, instructor.user_id)
    assert [m.role for m in services.classes.roster(instructor, klass.id)] == ["instructor", "student"]


def test_an_instructor_may_leave_when_another_remains(services, instructor, student, klass):
    services.accounts.register("co@example.edu", "correct-horse-9", "Co")
    services.classes.add_instructor(instructor, klass.id, "co@example.edu")
    co = services.accounts.lookup(SYSTEM, "co@example.edu").actor()
    services.classes.remove_member(instructor, klass.id, instructor.user_id)
    assert services.classes.list_for(instructor) == []
    assert [(m.email, m.role) for m in services.classes.roster(co, klass.id)] == [
        ("co@example.edu", "instructor"), ("student@example.edu", "student")]
    with pytest.raises(ValidationError, match="You are the only instructor"):
        services.classes.remove_member(co, klass.id, co.user_id)


def test_rotating_the_code_retires_the_old_one(services, instructor, student, klass):
    late = services.accounts.register("late@example.edu", "correct-horse-9", "Late").actor()
    code = services.classes.rotate_join_code(instructor, klass.id)
    assert code != klass.join_code and len(code) == JOIN_CODE_LEN and set(code) <= set(JOIN_CODE_ALPHABET)
    with pytest.raises(NotFound, match="No class has the join code"):
        services.classes.join(late, klass.join_code)
    assert services.classes.join(late, code).id == klass.id
    assert services.classes.list_for(instructor)[0].join_code == code
    # members already in the class stay in it
    assert [m.email for m in services.classes.roster(instructor, klass.id)] == [
        "prof@example.edu", "late@example.edu", "student@example.edu"]


def test_cli_join_roster_remove_and_rotate(env, capsys):  # noqa: F811
    assert run(capsys, "create-user", "--email", "prof@example.edu", "--password-stdin",
               stdin="prof-password-1\n")[0] == 0
    assert run(capsys, "create-user", "--email", "stu@example.edu", "--password-stdin",
               stdin="stu-password-1\n")[0] == 0
    created = json.loads(run(capsys, "create-class", "--name", "Biology", "--owner", "prof@example.edu",
                             "--json")[1])
    cid, code = str(created["id"]), created["join_code"]

    rc, out, _ = run(capsys, "join", code.lower(), "--as", "stu@example.edu")
    assert rc == 0 and "class" in out and "Biology" in out and "student" in out
    rc, out, err = run(capsys, "join", "NOPE2345", "--as", "stu@example.edu")
    assert rc == 2 and "No class has the join code NOPE2345" in err

    rc, out, _ = run(capsys, "roster", "--class", cid, "--json")
    rows = json.loads(out)
    assert rc == 0 and [(r["email"], r["role"], r["last_question"]) for r in rows] == [
        ("prof@example.edu", "instructor", None), ("stu@example.edu", "student", None)]
    rc, out, _ = run(capsys, "roster", "--class", cid)
    assert rc == 0 and "stu@example.edu" in out and "never asked" in out
    rc, _, err = run(capsys, "roster", "--class", cid, "--as", "stu@example.edu")
    assert rc == 2 and "Only an instructor" in err

    rc, out, _ = run(capsys, "rotate-code", "--class", cid)
    new_code = out.split("new join code ")[1].split()[0]
    assert rc == 0 and new_code != code
    assert run(capsys, "join", code, "--as", "prof@example.edu")[0] == 2  # the old code is gone

    rc, out, _ = run(capsys, "remove-member", "--class", cid, "stu@example.edu")
    assert rc == 0 and "removed stu@example.edu" in out
    rc, _, err = run(capsys, "remove-member", "--class", cid, "prof@example.edu")
    assert rc == 2 and "only instructor" in err
    rows = json.loads(run(capsys, "roster", "--class", cid, "--json")[1])
    assert [r["email"] for r in rows] == ["prof@example.edu"]
