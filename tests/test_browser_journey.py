"""The acceptance journey in a real browser: Debian's Chromium, driven by Playwright, against
`streamlit run app.py` on 127.0.0.1 with a fresh data directory and the real embedding model.

register → log in (a wrong password first) → create a class → upload a PDF (and a file whose
name is Markdown image syntax: shown as text, never fetched) → ask → an answer with a page
citation and its page image → reload, still logged in → the password changed from a second
browser: the first one's session is over, even after a reload → log out → reload, still logged
out. Screenshots go to artifacts/browser/ (docs/screenshots/ holds the chosen ones).

Skips when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (.ci/run sets it): then
a missing browser is a failure.
"""
from __future__ import annotations

import os
import re
import time

import pytest

from tests.browser_support import ARTIFACTS, SLOW_STEP, STEP, chromium, require_browser, streamlit_server
from tests.browser_support import settle as _settle
from tests.factories import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

EMAIL, PASSWORD = "ada@example.edu", "Analytical-engine-1843"
NEW_PASSWORD = "Difference-engine-1822"
TRAP_NAME = "![tracker](tracker-pixel.png) notes.txt"  # Markdown image syntax as a filename

PAGES = [
    "Lecture 4: Photosynthesis\n\n"
    "Plants, algae and some bacteria convert light energy into chemical energy. The overall reaction turns "
    "carbon dioxide and water into glucose and oxygen. Photosynthesis has two stages: the light-dependent "
    "reactions and the Calvin cycle.\n\n"
    "The light-dependent reactions happen in the thylakoid membranes. Chlorophyll absorbs red and blue light; "
    "the energy splits water, releases oxygen, and produces ATP and NADPH. Photosystem II comes first in the "
    "electron transport chain, photosystem I second.",
    "The Calvin cycle\n\n"
    "The Calvin cycle takes place in the stroma of the chloroplast. It uses the ATP and NADPH made by the light "
    "reactions to fix carbon dioxide into three-carbon sugars.\n\n"
    "Step 1, carbon fixation: the enzyme RuBisCO attaches carbon dioxide to ribulose bisphosphate (RuBP).\n"
    "Step 2, reduction: ATP and NADPH turn 3-phosphoglycerate into glyceraldehyde 3-phosphate (G3P).\n"
    "Step 3, regeneration: most G3P is recycled to regenerate RuBP, so the cycle can continue.\n\n"
    "Six turns of the cycle fix six molecules of carbon dioxide, enough for one molecule of glucose.",
    "Cellular respiration\n\n"
    "Cellular respiration releases the energy stored in glucose. Glycolysis happens in the cytoplasm and "
    "splits glucose into two pyruvate molecules. The citric acid cycle and oxidative phosphorylation happen "
    "in the mitochondria, where most of the ATP is made.",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` with its own data dir and the real model; yields (url, time it was up)."""
    require_browser()
    with streamlit_server(tmp_path_factory.mktemp("browser-data"),
                          os.environ.get("BROWSER_EMBEDDER") or "minilm") as running:
        yield running


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def _shot(page, name: str) -> None:
    page.wait_for_timeout(400)  # let Streamlit finish fading in the last elements
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_journey_register_to_cited_answer(server, browser, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP)
    url, up_at = server
    pdf = tmp_path / "biology-notes.pdf"
    pdf.write_bytes(make_pdf(PAGES))
    trap = tmp_path / TRAP_NAME
    trap.write_text("Osmosis moves water across a membrane toward the higher solute concentration.")
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(STEP)
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    login_button = page.get_by_test_id("stForm").get_by_role("button", name="Log in")

    # 1. the login page, quickly, and nothing else: no navigation, and /chat shows the login page
    started = time.monotonic()
    page.goto(url)
    _settle(page)
    expect(login_button).to_be_visible()
    done = time.monotonic()
    # the first visitor of a fresh server pays for the first script run (imports, migrations);
    # torch is not on this path (tests/test_app_gate.py checks that)
    (ARTIFACTS / "timings.txt").write_text(
        f"login page, first visitor: {done - started:.2f} s from navigation, {done - up_at:.2f} s from server up\n")
    assert done - started < 15, f"the login page took {done - started:.1f} s"
    expect(page.get_by_role("link", name="Chat")).to_have_count(0)
    _shot(page, "01-login")
    page.goto(url + "/chat")  # a logged-out visitor asking for a page gets the login form there, nothing else
    _settle(page)
    expect(login_button).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_test_id("stChatInputTextArea")).to_have_count(0)
    _shot(page, "01b-logged-out-chat-url")
    page.goto(url)
    _settle(page)
    expect(login_button).to_be_visible()

    # 2. register (our password rules)
    page.get_by_role("radio", name="Create account").click()
    _settle(page)
    page.get_by_label("First name (optional)").fill("Ada")
    page.get_by_label("Last name (optional)").fill("Lovelace")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_test_id("stForm").get_by_role("button", name="Create account").click()
    _settle(page)
    expect(page.get_by_text(f"Account created for {EMAIL}")).to_be_visible()

    # 3. a wrong password says so; the right one logs in
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    page.get_by_label("Password", exact=True).fill("not-my-password-1")
    login_button.click()
    _settle(page)
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    login_button.click()
    _settle(page)
    expect(page.get_by_role("heading", name="Your classes")).to_be_visible()

    # 4. create a class: its join code is shown (for someone in no class yet, the form waits in an expander)
    page.get_by_test_id("stExpander").get_by_text("Create a class").click()
    page.get_by_label("Class name").fill("Biology 101")
    page.get_by_label("Description (optional)").fill("Cells, energy and photosynthesis")
    page.get_by_role("button", name="Create class").click()
    _settle(page)
    expect(page.get_by_text("is ready. Share this join code")).to_be_visible()
    code = page.get_by_test_id("stCode").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code), code
    _shot(page, "02-class-created")

    # 5. upload a PDF: a status box per file, then ready, then listed
    page.get_by_role("button", name="Documents").first.click()
    _settle(page)
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(pdf))
    page.get_by_role("button", name="Upload and process").click()
    _settle(page)
    expect(page.get_by_text("biology-notes.pdf is ready").first).to_be_visible(timeout=SLOW_STEP)
    expect(page.get_by_text("1 document", exact=False).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"\bReady$")).filter(visible=True).first).to_be_visible()
    _shot(page, "03-documents")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(trap))
    page.get_by_role("button", name="Upload and process").click()
    _settle(page)
    expect(page.get_by_text(f"{TRAP_NAME} is ready").first).to_be_visible(timeout=SLOW_STEP)
    expect(page.get_by_text(TRAP_NAME, exact=True).first).to_be_visible()  # as text, brackets and all
    assert not [u for u in fetched if "tracker-pixel" in u], "a filename made the browser fetch an address"
    assert page.locator('img[src*="tracker-pixel"]').count() == 0

    # 6. ask: an answer that cites a page, with the passage and a picture of that page
    page.get_by_role("link", name="Chat").click()
    _settle(page)
    question = "Where does the Calvin cycle take place?"
    page.get_by_test_id("stChatInputTextArea").fill(question)
    page.keyboard.press("Enter")
    _settle(page)
    source = page.get_by_text(re.compile(r"\[1\] biology-notes\.pdf, p\. \d"))
    expect(source).to_be_visible(timeout=SLOW_STEP)
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("[1]")
    expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("stroma")
    image = page.get_by_test_id("stImage").first
    expect(image).to_be_visible()
    expect(page.get_by_text(re.compile(r"biology-notes\.pdf, page \d"))).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 1560})  # the question, the answer and its page at once
    _settle(page)
    _shot(page, "04-chat-answer")
    page.set_viewport_size({"width": 1280, "height": 1100})

    # 7. reload: still logged in (the cookie), and the chat history is still there
    page.reload()
    _settle(page)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible()
    expect(page.get_by_text(question)).to_be_visible()
    expect(login_button).to_have_count(0)
    _shot(page, "05-after-reload")

    # 8. the password is changed from a second browser: the first browser's session is over at its
    #    next click, and its cookie no longer logs in after a reload
    other = browser.new_context(viewport={"width": 1280, "height": 1100})
    page2 = other.new_page()
    page2.set_default_timeout(STEP)
    page2.goto(url)
    _settle(page2)
    page2.get_by_label("Email").fill(EMAIL)
    page2.get_by_label("Password", exact=True).fill(PASSWORD)
    page2.get_by_test_id("stForm").get_by_role("button", name="Log in").click()
    _settle(page2)
    page2.get_by_role("link", name="Account").click()
    _settle(page2)
    page2.get_by_label("Current password").fill(PASSWORD)
    page2.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page2.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page2.get_by_role("button", name="Change password").click()
    _settle(page2)
    expect(page2.get_by_text("Password changed.")).to_be_visible()
    page.get_by_role("link", name="Classes").click()  # the first browser, still showing the app
    _settle(page)
    expect(login_button).to_be_visible()
    expect(page.get_by_text("Your session has ended: log in again.")).to_be_visible()
    page.reload()  # the cookie from before the password change
    _settle(page)
    expect(login_button).to_be_visible()
    expect(page.get_by_role("link", name="Chat")).to_have_count(0)

    # 9. log out in the second browser: back to the login page, and a reload does not log back in
    page2.reload()  # the cookie written after the password change still logs in
    _settle(page2)
    expect(page2.get_by_role("link", name="Chat")).to_be_visible()
    page2.get_by_role("button", name="Log out").first.click()
    _settle(page2)
    expect(page2.get_by_test_id("stForm").get_by_role("button", name="Log in")).to_be_visible()
    expect(page2.get_by_text("You have been logged out.")).to_be_visible()
    _shot(page2, "05b-logged-out")
    page2.reload()
    _settle(page2)
    expect(page2.get_by_test_id("stForm").get_by_role("button", name="Log in")).to_be_visible()
    expect(page2.get_by_role("link", name="Chat")).to_have_count(0)
    _shot(page2, "06-logged-out")
    other.close()
    context.close()
