"""Join links, the roster and the join code's rotation in the app (AppTest, through app.py's gate)."""
from __future__ import annotations

from core.services.actors import SYSTEM
from tests.app_support import (PASSWORD, app_env, logged_in, new_app, setup, shown, svc, texts,  # noqa: F401
                               values)


def _login(at, email):
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(PASSWORD)
    return next(b for b in at.button if b.label == "Log in").click().run()


def _keys(at) -> list[str]:
    return [t.key for t in at.text_input]


def test_a_join_link_while_logged_out_leads_through_login_into_the_class(app_env, svc, setup):
    _, _, klass = setup
    new = svc.accounts.register("new@example.edu", PASSWORD, "New").actor()
    at = new_app(app_env)
    at.query_params["join"] = klass.join_code
    at.run()
    assert not at.exception
    assert f"to join the class with the code **{klass.join_code}**" in values(at.info)[0]
    assert "login_email" in _keys(at)  # the login page, nothing of the app
    at = _login(at, "new@example.edu")
    assert not at.exception
    assert at.title[0].value == "Your classes"
    assert "You joined **Biology 101**" in shown(at.success[0].value)
    assert [(c.id, c.role) for c in svc.classes.list_for(new)] == [(klass.id, "student")]
    assert at.session_state["classgpt_class_id"] == klass.id  # the Chat page opens on it
    assert "join" not in at.query_params
    at.run()  # the code is spent: the next run neither joins again nor repeats the message
    assert not at.success and not at.error


def test_a_join_link_survives_registering_first(app_env, svc, setup):
    _, _, klass = setup
    at = new_app(app_env)
    at.query_params["join"] = klass.join_code
    at.run()
    at.segmented_control(key="auth_mode").set_value("Create account").run()
    at.text_input(key="register_email").input("fresh@example.edu")
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD)
    at = next(b for b in at.button if b.label == "Create account").click().run()
    assert not at.exception
    at.query_params.clear()  # as if the login step had dropped the parameter: the session keeps the code
    at = _login(at, "fresh@example.edu")
    assert "You joined **Biology 101**" in shown(at.success[0].value)
    fresh = svc.accounts.lookup(SYSTEM, "fresh@example.edu")
    assert [c.id for c in svc.classes.list_for(fresh.actor())] == [klass.id]


def test_a_rotated_code_in_a_link_says_so(app_env, svc, setup):
    prof, _, klass = setup
    svc.accounts.register("new@example.edu", PASSWORD, "New")
    svc.classes.rotate_join_code(prof, klass.id)
    at = new_app(app_env)
    at.query_params["join"] = klass.join_code
    at.run()
    at = _login(at, "new@example.edu")
    assert not at.exception
    assert f"No class has the join code {klass.join_code}" in shown(at.error[0].value)
    assert "You are not in any class yet" in shown(at.info[0].value)


def test_a_signed_in_user_opening_a_link_joins_at_once(app_env, svc, setup):
    prof, _, _ = setup
    other = svc.classes.create(prof, "Chemistry")
    at = logged_in(app_env, "stu@example.edu")
    at.query_params["join"] = other.join_code.lower()
    at.run()
    assert not at.exception
    assert "You joined **Chemistry**" in shown(at.success[0].value)
    assert "Chemistry" in values(at.subheader)


def test_the_instructor_sees_the_roster_and_the_join_link(app_env, svc, setup):
    prof, stu, klass = setup
    at = logged_in(app_env, "prof@example.edu")
    assert not at.exception
    assert [e.label for e in at.expander] == ["Manage class", "Roster and join code"]
    page = texts(at)
    for shown_text in ("Name", "Email", "Joined", "Last question", "Stu", "stu@example.edu", "never"):
        assert shown_text in page, shown_text
    codes = [c.value for c in at.code]
    assert klass.join_code in codes
    assert any(c.endswith(f"/?join={klass.join_code}") for c in codes), codes


def test_the_instructor_rotates_the_code_after_confirming(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu")
    at = at.button(key=f"rotate_{klass.id}").click().run()
    assert "stop working at once" in shown(at.warning[0].value)
    assert svc.classes.list_for(prof)[0].join_code == klass.join_code  # nothing changed yet
    at = at.button(key=f"rotate_yes_{klass.id}").click().run()
    assert not at.exception
    new_code = svc.classes.list_for(prof)[0].join_code
    assert new_code != klass.join_code
    assert f"New join code for **Biology 101**: `{new_code}`" in shown(at.success[0].value)
    codes = [c.value for c in at.code]
    assert new_code in codes and klass.join_code not in codes
    assert any(c.endswith(f"?join={new_code}") for c in codes)


def test_the_instructor_removes_a_student_after_confirming(app_env, svc, setup):
    prof, stu, klass = setup
    at = logged_in(app_env, "prof@example.edu")
    key = f"member_{klass.id}_{stu.user_id}"
    at = at.button(key=f"delete_{key}").click().run()
    assert "Remove **Stu** (stu@example.edu) from **Biology 101**?" in shown(at.warning[0].value)
    at = at.button(key=f"delete_no_{key}").click().run()
    assert len(svc.classes.roster(prof, klass.id)) == 2
    at = at.button(key=f"delete_{key}").click().run()
    at = at.button(key=f"delete_yes_{key}").click().run()
    assert not at.exception
    assert "Removed **Stu** from **Biology 101**" in shown(at.success[0].value)
    assert [m.email for m in svc.classes.roster(prof, klass.id)] == ["prof@example.edu"]
    assert "stu@example.edu" not in texts(at)
    assert svc.classes.list_for(stu) == []
    assert not any(b.key == f"delete_member_{klass.id}_{prof.user_id}" for b in at.button)  # no instructor removal


def test_a_student_sees_classes_and_the_join_form_before_create(app_env, svc, setup):
    at = logged_in(app_env, "stu@example.edu")
    assert not at.exception
    assert values(at.subheader)[:2] == ["Biology 101", "Join with a code"]
    assert _keys(at) == ["join_code", "new_class_name", "new_class_description"]
    assert [e.label for e in at.expander] == ["Create a class"]
    assert not any(b.key and b.key.startswith("rotate_") for b in at.button)


def test_an_instructor_keeps_create_beside_join(app_env, setup):
    at = logged_in(app_env, "prof@example.edu")
    assert _keys(at)[:3] == ["new_class_name", "new_class_description", "join_code"]
    assert values(at.subheader)[:2] == ["Create a class", "Join a class"]


def test_the_instructor_adds_a_co_instructor_by_email(app_env, svc, setup):
    prof, _, klass = setup
    colleague = svc.accounts.register("colleague@example.edu", PASSWORD, "Colleague").actor()
    at = logged_in(app_env, "prof@example.edu")
    at.text_input(key=f"co_instructor_email_{klass.id}").input("nobody@example.edu")
    at = next(b for b in at.button if b.label == "Add instructor").click().run()
    assert "No account for nobody@example.edu" in shown(at.error[0].value)
    at.text_input(key=f"co_instructor_email_{klass.id}").input("Colleague@Example.edu ")
    at = next(b for b in at.button if b.label == "Add instructor").click().run()
    assert not at.exception
    assert "now teaches **Biology 101**" in shown(at.success[0].value)
    assert "Colleague · *instructor*" in texts(at)
    assert [c.role for c in svc.classes.list_for(colleague)] == ["instructor"]
