"""Addresses in a real browser (Chromium through Playwright): the page a user asks for is the page
they get, before and after logging in, and a page that is not theirs says so (ui/navigation.py).

The server runs with the fake embedder: nothing here asks a question. Skips like the journey
when Chromium is missing, unless REQUIRE_BROWSER=1.
"""
from __future__ import annotations

import pytest

from core.services.actors import SYSTEM
from tests.browser_support import ARTIFACTS, STEP, running_app, settle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

STUDENT, PROF, PASSWORD = "sam@example.edu", "prof@example.edu", "Analytical-engine-1843"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, browser) over a server whose database holds a class with a professor and a student."""
    with running_app(tmp_path_factory, embedder="fake") as (url, services, browser):
        prof = services.accounts.register(PROF, PASSWORD, "Prof Ada").actor()
        sam = services.accounts.register(STUDENT, PASSWORD, "Sam Student").actor()
        klass = services.classes.create(prof, "Biology 101")
        services.classes.join(sam, klass.join_code)
        assert services.accounts.lookup(SYSTEM, STUDENT)
        yield url, browser


def _log_in(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_test_id("stForm").get_by_role("button", name="Log in").click()
    settle(page)


def test_the_address_asked_for_opens_after_login(app):
    from playwright.sync_api import expect

    url, browser = app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(STEP)
    expect.set_options(timeout=STEP)
    login_button = page.get_by_test_id("stForm").get_by_role("button", name="Log in")

    # logged out, /documents is the login form at that address: no "Page not found", no page content
    page.goto(url + "/documents")
    settle(page)
    expect(login_button).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_have_count(0)

    # the login lands on Documents, not on Classes
    _log_in(page, STUDENT)
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    assert page.url.rstrip("/").endswith("/documents"), page.url

    # signed in, another page's address (a new tab, a bookmark) opens that page
    other = context.new_page()
    other.goto(url + "/chat")
    settle(other)
    expect(other.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
    expect(other.get_by_text("Page not found")).to_have_count(0)

    # the login page's own address, signed in: on to Classes, without "Page not found"
    other.goto(url + "/login")
    settle(other)
    expect(other.get_by_role("heading", name="Your classes")).to_be_visible()
    expect(other.get_by_text("Page not found")).to_have_count(0)

    # a page that is not a student's says whom it is for
    other.goto(url + "/status")
    settle(other)
    expect(other.get_by_text("This page is for administrators.")).to_be_visible()
    expect(other.get_by_text("Page not found")).to_have_count(0)

    # logging out says so, on the page the user was on, with the login form and no sidebar left open
    other.goto(url + "/chat")
    settle(other)
    other.get_by_role("button", name="Log out").click()
    settle(other)
    expect(other.get_by_text("You have been logged out.")).to_be_visible()
    expect(other.get_by_test_id("stForm").get_by_role("button", name="Log in")).to_be_visible()
    expect(other.get_by_test_id("stSidebar")).to_be_hidden()
    other.screenshot(path=str(ARTIFACTS / "navigation-logged-out.png"))

    # and logging in again from there returns to Chat
    _log_in(other, STUDENT)
    expect(other.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
    context.close()


def test_an_unknown_address_still_says_not_found(app):
    from playwright.sync_api import expect

    url, browser = app
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/no-such-page")
    settle(page)
    expect(page.get_by_text("Page not found")).to_be_visible(timeout=STEP)
    expect(page.get_by_test_id("stForm").get_by_role("button", name="Log in")).to_be_visible(timeout=STEP)
    context.close()
