"""PowerPoint and Word uploads: slides and Word pages/sections cited as pages, speaker notes only
on request, text previews instead of pictures, and clear refusals of old, encrypted and damaged
files. Every deck and document is a real .pptx/.docx built with python-pptx/python-docx."""
from __future__ import annotations

import io

import pytest
from docx import Document as WordDocument
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from pptx import Presentation
from pptx.util import Inches
from sqlalchemy import func, select

from core.errors import NotFound, PermissionDenied, ValidationError
from core.ingest.extract import extract
from core.ingest.formats import DOCX, PPTX
from core.models import Chunk, Document, IngestFailure
from tests.app_support import app_env, logged_in, setup, shown, svc  # noqa: F401
from tests.conftest import run_core
from tests.factories import make_pdf, upload

NOTES = "PRIVATE: answer is 42"


def make_deck() -> bytes:
    """Three slides: title + bullets (with speaker notes), a table, a group shape."""
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Recursion"
    body = first.placeholders[1].text_frame
    body.text = "A recursive function calls itself on a smaller input."
    body.add_paragraph().text = "Every recursion needs a base case that stops it."
    first.notes_slide.notes_text_frame.text = NOTES

    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Programming languages"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, row in enumerate([("Language", "Creator"), ("Haskell", "designed by a committee in 1990"),
                             ("Python", "created by Guido van Rossum in 1991")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text

    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Grouped shapes"
    group = third.shapes.add_group_shape()
    inner = group.shapes.add_group_shape()  # a group inside a group
    inner.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1)).text_frame.text = (
        "Memoization caches the results of earlier calls.")
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def _docx(build) -> bytes:
    doc = WordDocument()
    build(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def make_paged_docx() -> bytes:
    """Three pages separated by the author's explicit page breaks."""
    def build(doc):
        doc.add_paragraph("Cells are the basic unit of life.")
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_paragraph("Mitochondria produce ATP through cellular respiration.")
        doc.add_paragraph("Chloroplasts capture light.").add_run().add_break(WD_BREAK.PAGE)
        table = doc.add_table(rows=1, cols=2)
        table.cell(0, 0).text = "Ribosome"
        table.cell(0, 1).text = "builds proteins from amino acids"
    return _docx(build)


def make_sectioned_docx() -> bytes:
    """No page breaks: headings are all a reader can be pointed to."""
    def build(doc):
        doc.add_paragraph("A short preface before any heading.")
        doc.add_heading("Introduction", level=1)
        doc.add_paragraph("Enzymes speed up chemical reactions in the cell.")
        doc.add_heading("Photosynthesis in the chloroplasts of green plants", level=1)
        doc.add_paragraph("The Calvin cycle fixes carbon dioxide into sugars in the stroma.")
    return _docx(build)


@pytest.fixture
def klass(services, instructor):
    return services.classes.create(instructor, "Computing")


def _chunks(services, document_id) -> list[Chunk]:
    with services.db.transaction() as s:
        rows = s.scalars(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.ordinal)).all()
        s.expunge_all()
        return rows


# ---- extraction ---------------------------------------------------------------------------------

def test_a_slide_is_a_page_with_its_title_first_and_its_tables_and_groups():
    doc = extract("deck.pptx", make_deck())
    assert doc.content_type == PPTX and doc.page_count == 3
    assert [(p.number, p.label, p.title) for p in doc.pages] == [
        (1, "1 · Recursion", "Recursion"), (2, "2 · Programming languages", "Programming languages"),
        (3, "3 · Grouped shapes", "Grouped shapes")]
    first, second, third = (p.text for p in doc.pages)
    assert first == ("Recursion\n\nA recursive function calls itself on a smaller input.\n"
                     "Every recursion needs a base case that stops it.")
    assert second.startswith("Programming languages\n\n")
    assert "Language | Creator\nHaskell | designed by a committee in 1990\n" in second  # row by row
    assert third == "Grouped shapes\n\nMemoization caches the results of earlier calls."
    assert NOTES not in "".join(p.text for p in doc.pages)


def test_speaker_notes_are_read_only_when_asked():
    with_notes = extract("deck.pptx", make_deck(), include_notes=True)
    assert with_notes.pages[0].text.endswith("\n\nSpeaker notes: " + NOTES)
    assert NOTES not in with_notes.pages[1].text + with_notes.pages[2].text


def test_word_pages_follow_explicit_page_breaks():
    doc = extract("bio.docx", make_paged_docx())
    assert doc.content_type == DOCX and doc.page_count == 3
    assert [(p.number, p.label) for p in doc.pages] == [(1, None), (2, None), (3, None)]
    assert doc.pages[0].text == "Cells are the basic unit of life."
    assert "Mitochondria" in doc.pages[1].text and "Chloroplasts capture light." in doc.pages[1].text
    assert doc.pages[2].text == "Ribosome | builds proteins from amino acids"


def test_word_pages_follow_rendered_breaks_without_counting_explicit_ones_twice():
    """Word marks where each page began when it last laid the file out (w:lastRenderedPageBreak),
    the pages after explicit breaks included: those marks are the pages."""
    def build(doc):
        doc.add_paragraph("Page one, laid out by Word.")
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        second = doc.add_paragraph().add_run("Page two starts after the explicit break.")
        second._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))
        run = doc.add_paragraph().add_run("Page three began here when Word wrapped the text.")
        run._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))
    doc = extract("laid-out.docx", _docx(build))
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert [p.text for p in doc.pages] == ["Page one, laid out by Word.", "Page two starts after the explicit break.",
                                           "Page three began here when Word wrapped the text."]


def test_word_without_page_breaks_is_cited_by_heading():
    doc = extract("bio.docx", make_sectioned_docx())
    assert doc.page_count == 0
    assert [(p.number, p.label, p.title) for p in doc.pages] == [
        (None, None, None),  # the preface: no heading to point to
        (None, "§ Introduction", "Introduction"),
        (None, "§ Photosynthesis in the chlorop…", "Photosynthesis in the chloroplasts of green plants"),
    ]
    assert all(len(p.label or "") <= 32 for p in doc.pages)  # chunks.page_label's width
    assert doc.pages[1].text == "Introduction\n\nEnzymes speed up chemical reactions in the cell."


# ---- upload, citations, previews ----------------------------------------------------------------

def test_deck_upload_indexes_slides_without_notes_and_cites_slide_two(services, instructor, klass):
    deck = make_deck()
    res = upload(services, instructor, klass.id, "languages.pptx", deck)
    assert res.ok and res.pages == 3
    chunks = _chunks(services, res.document_id)
    assert [(c.page, c.page_label) for c in chunks] == [(1, "1 · Recursion"), (2, "2 · Programming languages"),
                                                         (3, "3 · Grouped shapes")]
    assert not any("PRIVATE" in c.text for c in chunks)
    [info] = services.documents.list(instructor, klass.id)
    assert info.content_type == PPTX and info.page_count == 3
    assert services.documents.download(instructor, res.document_id)[2] == deck  # the original, as uploaded

    answer = services.chat.ask(instructor, klass.id, "Who created Python?")
    first = answer.citations[0]
    assert (first.document, first.page, first.page_label, first.label) == (
        "languages.pptx", 2, "2 · Programming languages", "languages.pptx, slide 2 · Programming languages")
    assert first.text.startswith("Programming languages")  # the slide's title travels with the passage


def test_notes_are_indexed_when_the_uploader_says_so(services, instructor, klass):
    res = upload(services, instructor, klass.id, "deck.pptx", make_deck(), include_notes=True)
    assert res.ok
    assert any(NOTES in c.text and c.page == 1 for c in _chunks(services, res.document_id))


def test_docx_with_page_breaks_cites_the_page(services, instructor, klass):
    res = upload(services, instructor, klass.id, "bio.docx", make_paged_docx())
    assert res.ok and res.pages == 3
    answer = services.chat.ask(instructor, klass.id, "What do mitochondria produce?")
    first = answer.citations[0]
    assert (first.page, first.label) == (2, "bio.docx, p. 2")


def test_docx_without_breaks_cites_the_heading(services, instructor, klass):
    res = upload(services, instructor, klass.id, "bio.docx", make_sectioned_docx())
    assert res.ok and res.pages == 0
    answer = services.chat.ask(instructor, klass.id, "What do enzymes speed up?")
    first = answer.citations[0]
    assert (first.page, first.page_label) == (None, "§ Introduction")
    assert first.label == "bio.docx, § Introduction"


def test_page_text_lays_out_a_slide_and_keeps_the_access_check(services, instructor, student, klass):
    res = upload(services, instructor, klass.id, "deck.pptx", make_deck(), include_notes=True)
    view = services.documents.page_text(instructor, res.document_id, 1)
    assert (view.kind, view.title) == ("slide", "Recursion")
    assert view.lines == ["A recursive function calls itself on a smaller input.",
                          "Every recursion needs a base case that stops it."]  # never the notes
    assert services.documents.page_text(instructor, res.document_id, 2).lines[1] == (
        "Haskell | designed by a committee in 1990")
    with pytest.raises(PermissionDenied):  # not enrolled in this class
        services.documents.page_text(student, res.document_id, 1)
    with pytest.raises(NotFound, match="no slide 9"):
        services.documents.page_text(instructor, res.document_id, 9)
    with pytest.raises(ValidationError, match="not a PDF"):
        services.documents.page_preview(instructor, res.document_id, 1)


def test_page_text_of_a_pdf_page_is_its_text(services, instructor, klass):
    """page_text serves every document (a PDF's page is just less readable than its picture)."""
    res = upload(services, instructor, klass.id, "bio.pdf", make_pdf(["Cells divide.", "Mitochondria produce ATP."]))
    view = services.documents.page_text(instructor, res.document_id, 2)
    assert (view.kind, view.title, view.lines) == ("page", None, ["Mitochondria produce ATP."])


def test_page_text_of_a_word_section(services, instructor, klass):
    res = upload(services, instructor, klass.id, "bio.docx", make_sectioned_docx())
    view = services.documents.page_text(instructor, res.document_id, None, "§ Introduction")
    assert (view.kind, view.title, view.lines) == (
        "section", "Introduction", ["Enzymes speed up chemical reactions in the cell."])
    paged = upload(services, instructor, klass.id, "paged.docx", make_paged_docx())
    assert services.documents.page_text(instructor, paged.document_id, 3).lines == [
        "Ribosome | builds proteins from amino acids"]


# ---- refusals ----------------------------------------------------------------------------------

OLE = bytes.fromhex("D0CF11E0A1B11AE1")
ENCRYPTED_STAND_IN = OLE + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 64 + (
    "EncryptedPackage".encode("utf-16-le"))


@pytest.mark.parametrize("filename, data, message", [
    ("lecture.ppt", OLE + b"\x00" * 600, "'lecture.ppt' is an old PowerPoint format (.ppt); ClassGPT reads .pptx"),
    ("notes.doc", OLE + b"\x00" * 600, "'notes.doc' is an old Word format (.doc); ClassGPT reads .docx"),
    ("x.docx", ENCRYPTED_STAND_IN, "'x.docx' is password-protected"),
    ("x.pptx", OLE + b"\x00" * 600, "'x.pptx' is named .pptx but is an old-format PowerPoint file"),
    ("x.pptx", make_deck()[:2000], "'x.pptx' looks damaged or incomplete: ClassGPT cannot read it as a PowerPoint file"),
    ("x.docx", b"just some text, not a document", "'x.docx' is named .docx but is not a Word file"),
    ("x.docx", make_deck(), "'x.docx' looks damaged or incomplete: ClassGPT cannot read it as a Word file"),  # a deck renamed .docx
])
def test_old_encrypted_and_damaged_files_are_refused_with_nothing_stored(services, instructor, klass,
                                                                        filename, data, message):
    res = upload(services, instructor, klass.id, filename, data)
    assert not res.ok and res.error.startswith(message), res.error
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Chunk)) == 0
        [failure] = s.scalars(select(IngestFailure)).all()
        assert (failure.filename, failure.error) == (filename, res.error)
    assert services.store.list_keys() == []


def test_a_deck_of_pictures_has_no_text_to_index(services, instructor, klass):
    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])  # blank
    buf = io.BytesIO()
    deck.save(buf)
    res = upload(services, instructor, klass.id, "pictures.pptx", buf.getvalue())
    assert not res.ok and "has no text in its slides" in res.error


# ---- command line ------------------------------------------------------------------------------

def test_cli_ingest_with_and_without_notes(services, settings, instructor, klass, tmp_path, monkeypatch, capsys):
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(make_deck())
    other = services.classes.create(instructor, "Computing, with notes")
    assert run_core(["ingest", "--class", str(klass.id), "--as", instructor.email, str(deck)], settings, monkeypatch) == 0
    assert run_core(["ingest", "--class", str(other.id), "--as", instructor.email, "--include-notes", str(deck)],
                    settings, monkeypatch) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok      deck.pptx: document ") and ", 3 pages, 3 chunks" in out[0]
    plain, noted = (services.documents.list(instructor, c.id)[0].id for c in (klass, other))
    assert not any(NOTES in c.text for c in _chunks(services, plain))
    assert any(NOTES in c.text for c in _chunks(services, noted))


# ---- the Chat page -----------------------------------------------------------------------------

def test_the_source_expander_shows_the_slide_as_text(app_env, svc, setup):
    prof, stu, klass = setup
    upload(svc, prof, klass.id, "languages.pptx", make_deck())
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    at.chat_input[0].set_value("Who created Python?")
    at = at.run()
    assert not at.exception, at.exception
    first = at.expander[0]
    assert shown(first.label) == "[1] languages.pptx, slide 2 · Programming languages"
    shown_text = [shown(m.value) for m in first.markdown]
    assert "**Programming languages**" in shown_text  # the title, in bold
    assert any("- Python | created by Guido van Rossum in 1991" in t for t in shown_text)  # a bullet per row
    assert not first.get("image")  # no picture of a slide: nothing renders one here
    assert any("languages.pptx, slide 2" in shown(c.value) for c in first.caption)
