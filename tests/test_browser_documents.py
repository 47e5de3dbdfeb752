"""The Documents page on a phone (390 x 844) in a real browser: long filenames wrap between words,
never inside one, nothing scrolls sideways, the uploader shows by name; and a file type ClassGPT
cannot read is explained as soon as it is chosen (the uploader has no type= filter to drop it).

Debian's Chromium through Playwright against `streamlit run app.py` with a fresh data directory,
seeded through the services (fake embedder: nothing here depends on retrieval). The screenshot
goes to artifacts/browser/documents-390.png.
"""
from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, STEP, running_app, settle
from tests.factories import make_pdf, upload

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

EMAIL, PASSWORD, NAME = "grace@example.edu", "Compiler-cobol-1959", "Grace Hopper"
NAMES = [
    "Lecture_07_Thermodynamics_and_Statistical_Mechanics_Final_Revision.pdf",
    "Week 3 - Introduction to Photosynthesis and Cellular Respiration (annotated).pdf",
    "notes.txt", "Electroencephalography_Magnetoencephalography_Neuroimaging_Methods_Week12.pdf",
]

# For every listed filename: each word (a run of letters and digits) must lie on one line, i.e.
# have one client rect; and the name must end inside the viewport.
WORDS_JS = r"""() => {
    const out = [];
    for (const card of document.querySelectorAll('[class*="st-key-document_"]')) {
        const strong = card.querySelector('strong');
        const walker = document.createTreeWalker(strong, NodeFilter.SHOW_TEXT);
        const split = [];
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const m of node.textContent.matchAll(/[A-Za-z0-9]+/g)) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (lines.size > 1) split.push(m[0]);
            }
        }
        const box = strong.getBoundingClientRect();
        out.push({name: strong.textContent.replace(/\u200b/g, ''), split,
                  wordBreak: getComputedStyle(strong.closest('p')).wordBreak,
                  lines: Math.round(box.height / parseFloat(getComputedStyle(strong).lineHeight)),
                  right: box.right, width: window.innerWidth});
    }
    return out;
}"""


def _seed(services) -> None:
    prof = services.accounts.register(EMAIL, PASSWORD, NAME).actor()
    klass = services.classes.create(prof, "Thermodynamics and Life")
    for i, name in enumerate(NAMES):
        data = (make_pdf([f"Document {i}: entropy, enthalpy and the free energy of reactions in cells."])
                if name.endswith(".pdf") else b"Osmosis moves water across a membrane.")
        assert upload(services, prof, klass.id, name, data).ok


def test_documents_read_well_at_390_px(tmp_path_factory, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP)
    old_deck = tmp_path / "week1.ppt"
    old_deck.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an old PowerPoint file")
    with running_app(tmp_path_factory, log_name="server-documents.log") as (server, services, browser):
        _seed(services)
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.set_default_timeout(STEP)
        page.goto(server)
        settle(page)
        form = page.get_by_test_id("stForm")
        form.get_by_label("Email").fill(EMAIL)
        form.get_by_label("Password", exact=True).fill(PASSWORD)
        form.get_by_role("button", name="Log in").click()
        settle(page)
        page.goto(server + "/documents")
        settle(page)
        expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
        expect(page.get_by_text("4 documents")).to_be_visible()

        cards = page.evaluate(WORDS_JS)
        assert sorted(c["name"] for c in cards) == sorted(NAMES)
        for card in cards:
            assert card["split"] == [], f"{card['name']}: words broken across lines: {card['split']}"
            assert card["wordBreak"] != "break-all" and card["right"] <= card["width"], card
        assert max(c["lines"] for c in cards) >= 2  # the long names did need to wrap
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text(NAME).first).to_be_visible()  # the uploader by name, not by address
        expect(main.get_by_text(EMAIL)).to_have_count(0)
        page.get_by_text("4 documents").scroll_into_view_if_needed()
        page.wait_for_timeout(400)  # let Streamlit finish fading in the last elements
        page.screenshot(path=str(ARTIFACTS / "documents-390.png"), full_page=True)

        # a legacy PowerPoint file reaches the page (no type= filter) and is explained before upload
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(old_deck))
        settle(page)
        reason = page.get_by_text("'week1.ppt' is an old PowerPoint format (.ppt)")
        expect(reason).to_be_visible()
        reason.scroll_into_view_if_needed()
        expect(page.get_by_role("button", name="Upload and process")).to_be_disabled()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
        page.screenshot(path=str(ARTIFACTS / "documents-390-rejected.png"))
