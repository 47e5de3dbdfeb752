"""Classes page (AppTest): create (join code shown), join, roles, rename, delete with confirmation."""
from __future__ import annotations

import pytest

from tests.app_support import PASSWORD, app_env, logged_in, svc, shown, texts  # noqa: F401


@pytest.fixture
def users(svc):
    prof = svc.accounts.register("prof@example.edu", PASSWORD, "Prof").actor()
    stu = svc.accounts.register("stu@example.edu", PASSWORD, "Stu").actor()
    return prof, stu


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_no_classes_says_what_to_do_next(app_env, users):
    at = logged_in(app_env, "stu@example.edu")
    assert at.title[0].value == "Your classes"
    assert "You are not in any class yet" in shown(at.info[0].value)


def test_create_a_class_shows_its_join_code(app_env, svc, users):
    at = logged_in(app_env, "prof@example.edu")
    at.text_input(key="new_class_name").input("Biology 101")
    at.text_input(key="new_class_description").input("Cells and energy")
    at = _button(at, "Create class").click().run()
    assert not at.exception
    [klass] = svc.classes.list_for(users[0])
    assert klass.name == "Biology 101" and klass.role == "instructor"
    assert "**Biology 101** is ready. Share this join code" in shown(at.success[0].value)
    assert klass.join_code in [c.value for c in at.code]
    assert "Instructor" in texts(at) or any("Instructor" in str(m.value) for m in at.markdown)
    assert at.expander[0].label == "Manage class"


def test_a_class_needs_a_name(app_env, svc, users):
    at = logged_in(app_env, "prof@example.edu")
    at = _button(at, "Create class").click().run()
    assert shown(at.error[0].value) == "Give the class a name."
    assert svc.classes.list_for(users[0]) == []


def test_join_with_a_code_as_a_student(app_env, svc, users):
    prof, stu = users
    klass = svc.classes.create(prof, "Biology 101")
    at = logged_in(app_env, "stu@example.edu")
    at.text_input(key="join_code").input(klass.join_code.lower())
    at = _button(at, "Join class").click().run()
    assert not at.exception
    assert "You joined **Biology 101**" in shown(at.success[0].value)
    assert [c.role for c in svc.classes.list_for(stu)] == ["student"]
    # students see neither the join code nor the instructor's controls
    assert klass.join_code not in [c.value for c in at.code]
    assert [e.label for e in at.expander] == ["Create a class"]  # no "Manage class", no roster
    assert any("Student" in str(m.value) for m in at.markdown)


def test_a_wrong_code_says_so(app_env, users):
    at = logged_in(app_env, "stu@example.edu")
    at.text_input(key="join_code").input("NOPE2345")
    at = _button(at, "Join class").click().run()
    assert "No class has the join code NOPE2345" in shown(at.error[0].value)


def test_rename(app_env, svc, users):
    prof, _ = users
    klass = svc.classes.create(prof, "Biology 101")
    at = logged_in(app_env, "prof@example.edu")
    at.text_input(key=f"rename_name_{klass.id}").input("Biology 102")
    at = _button(at, "Save").click().run()
    assert [c.name for c in svc.classes.list_for(prof)] == ["Biology 102"]
    assert "Saved **Biology 102**" in shown(at.success[0].value)
    assert shown(at.subheader[-1].value) == "Biology 102"


def test_delete_asks_to_confirm(app_env, svc, users):
    prof, _ = users
    klass = svc.classes.create(prof, "Biology 101")
    at = logged_in(app_env, "prof@example.edu")
    at = at.button(key=f"delete_{klass.id}").click().run()
    assert "This cannot be undone" in shown(at.warning[0].value)
    assert len(svc.classes.list_for(prof)) == 1  # nothing deleted yet
    at = at.button(key=f"delete_no_{klass.id}").click().run()
    assert not at.warning and len(svc.classes.list_for(prof)) == 1
    at = at.button(key=f"delete_{klass.id}").click().run()
    at = at.button(key=f"delete_yes_{klass.id}").click().run()
    assert not at.exception
    assert svc.classes.list_for(prof) == []
    assert "Deleted **Biology 101**" in shown(at.success[0].value)


def test_open_chat_from_a_class(app_env, svc, users):
    prof, _ = users
    svc.classes.create(prof, "Algebra")
    klass = svc.classes.create(prof, "Biology 101")
    at = logged_in(app_env, "prof@example.edu")
    at = at.button(key=f"chat_{klass.id}").click().run()
    assert at.title[0].value == "Chat"
    assert at.selectbox(key="class_picker").value == klass.id
