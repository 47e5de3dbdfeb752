"""An instructor's journey and a student's, side by side in a real browser (Chromium through
Playwright), with the real embedding model:

the instructor opens /documents (logging in lands there), uploads a lecture deck (.pptx) and an
answer key (.docx) marked "instructors only", and copies the class's join link; a student opens
the link, logs in and is in the class, asks about the deck (cited by slide number and title) and
about the key (nothing from it: not the answer, not its name), and never sees the key listed;
the instructor opens Insights and finds the student's unanswered question, adds a checked
question on Checks and runs it: cited first.

Accounts and the class are made through the services (registration has its own journey,
tests/test_browser_journey.py). Screenshots go to artifacts/browser/class-*.png.
"""
from __future__ import annotations

import re

import pytest

from tests.browser_support import ARTIFACTS, SLOW_STEP, STEP, running_app, settle
from tests.factories import make_docx, make_pptx
from tests.test_office_key_model import DECK, KEY

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.xdist_group("browser")]

PROF, STUDENT, PASSWORD = "fenwright@example.edu", "sam@example.edu", "Analytical-engine-1843"
COOLING = "How is the Quenlow reactor cooled?"
KEY_QUESTION = "At what hexaflux ratio does the containment field collapse?"


def _log_in(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_test_id("stForm").get_by_role("button", name="Log in").click()
    settle(page)


def _shot(page, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"class-{name}.png"), full_page=True)


def _upload(page, path, *, instructors_only: bool = False) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    settle(page)
    if instructors_only:
        page.get_by_test_id("stForm").get_by_text("Instructors only", exact=True).click()
    page.get_by_role("button", name="Upload and process").click()
    settle(page)
    expect(page.get_by_text(f"{path.name} is ready").first).to_be_visible(timeout=SLOW_STEP)


def _ask(page, question: str) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(question)
    page.get_by_test_id("stChatInputTextArea").press("Enter")
    settle(page)


def test_instructor_and_student_journey(tmp_path_factory, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP)
    deck, key = tmp_path / "lecture7.pptx", tmp_path / "answer-key.docx"
    deck.write_bytes(make_pptx(DECK))
    key.write_bytes(make_docx(KEY))
    with running_app(tmp_path_factory, embedder="minilm", log_name="class-server.log") as (url, services, browser):
        prof = services.accounts.register(PROF, PASSWORD, "Imelda Fenwright").actor()
        services.accounts.register(STUDENT, PASSWORD, "Sam Student")
        services.classes.create(prof, "Reactor engineering")

        # 1. the instructor asks for /documents, logs in there, uploads the deck and the hidden key
        teacher = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        teacher.set_default_timeout(STEP)
        teacher.goto(url + "/documents")
        settle(teacher)
        _log_in(teacher, PROF)
        expect(teacher.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
        _upload(teacher, deck)
        _upload(teacher, key, instructors_only=True)
        expect(teacher.get_by_text("Instructors only").last).to_be_visible()
        expect(teacher.get_by_text("3 slides", exact=False).first).to_be_visible()  # a deck counts slides
        _shot(teacher, "01-documents")

        # 2. the join link, as the Classes page shows it
        teacher.get_by_role("link", name="Classes").click()
        settle(teacher)
        shown_link = teacher.get_by_test_id("stCode").filter(has_text="?join=")
        expect(shown_link).to_be_visible()
        link = shown_link.inner_text().strip()

        # 3. the student follows it, logs in, and is in the class
        student = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        student.set_default_timeout(STEP)
        student.goto(link)
        settle(student)
        expect(student.get_by_text("to join the class with the code")).to_be_visible()
        _log_in(student, STUDENT)
        expect(student.get_by_text("You joined Reactor engineering")).to_be_visible()

        # 4. a question on the deck: cited by slide number and title
        student.get_by_role("link", name="Chat").click()
        settle(student)
        _ask(student, COOLING)
        expect(student.get_by_text("vantrel").first).to_be_visible(timeout=SLOW_STEP)
        expect(student.get_by_text("lecture7.pptx, slide 2 · Cooling the reactor").first).to_be_visible()

        # 5. a question only the answer key answers: nothing of it reaches the student
        _ask(student, KEY_QUESTION)
        expect(student.get_by_text("doesn't mention").or_(student.get_by_text("couldn't find")).first).to_be_visible()
        body = student.locator("body").inner_text()
        assert "7.3" not in body and "answer-key" not in body and "problem set" not in body
        _shot(student, "02-student-chat")
        student.get_by_role("link", name="Documents").click()
        settle(student)
        expect(student.get_by_text("lecture7.pptx").first).to_be_visible()
        expect(student.get_by_text("answer-key.docx")).to_have_count(0)
        expect(student.get_by_role("link", name="Insights")).to_have_count(0)

        # 6. the instructor's Insights: the student's unanswered question, nobody named
        teacher.get_by_role("link", name="Insights").click()
        settle(teacher)
        expect(teacher.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
        expect(teacher.get_by_text(KEY_QUESTION).first).to_be_visible()
        assert "Sam Student" not in teacher.locator("body").inner_text()
        _shot(teacher, "03-insights")

        # 7. a checked question, run: the deck's slide 2 is cited first
        teacher.get_by_role("link", name="Checks").click()
        settle(teacher)
        teacher.get_by_role("textbox", name="Question").fill(COOLING)
        teacher.get_by_test_id("stSelectbox").filter(has_text="Document that answers it").click()
        teacher.get_by_role("option", name=re.compile(r"lecture7\.pptx")).click()
        teacher.get_by_role("textbox", name="Pages").fill("2")
        teacher.get_by_role("button", name="Add question").click()
        settle(teacher)
        teacher.get_by_role("button", name="Run checks").click()
        settle(teacher)
        expect(teacher.get_by_text("cited first", exact=False).first).to_be_visible()
        expect(teacher.get_by_text("slide 2 · Cooling the reactor").first).to_be_visible()
        _shot(teacher, "04-checks")
