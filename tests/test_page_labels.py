"""Printed page numbers: an answer cites the page label the PDF declares (/PageLabels: a book's
front matter i, ii, … and its page 1 some way in), while the 1-based index stays what previews
and links open. Through extraction, storage (SQLite and PostgreSQL), search, the CLI and the app."""
from __future__ import annotations

import json

import pytest
from fpdf import FPDF
from sqlalchemy import select, update

from core.answers.model import Citation
from core.ingest.pdf import MAX_LABEL_CHARS, open_pdf, page_label
from core.models import ChatMessage, Chunk, Class
from tests.app_support import PASSWORD, app_env, logged_in, setup, svc, shown  # noqa: F401
from tests.conftest import run_core
from tests.factories import make_pdf, upload

FRONT = ["Preface. This little book is about how plants live.", "Contents: light, sugar, breath.",
         "Foreword by a botanist who likes gardens.", "Acknowledgements to the gardeners."]
BODY = ["Photosynthesis turns light energy into chemical energy in plants.",
        "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars.",
        "Respiration releases the stored energy again in the mitochondria."]
QUESTION = "Where does the Calvin cycle take place?"


def book_pdf(front: list[str] = FRONT, body: list[str] = BODY) -> bytes:
    """A book as publishers export it: front matter numbered i, ii, … then the body from 1.
    With these defaults PDF page 5 is printed page 1, and the Calvin cycle is on PDF page 6, "2"."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_font("Helvetica", size=11)
    for i, text in enumerate(front + body):
        if i == 0 and front:
            pdf.add_page(label_style="r", label_start=1)
        elif i == len(front):
            pdf.add_page(label_style="D", label_start=1)
        else:
            pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def labels(data: bytes) -> list[str | None]:
    with open_pdf(data, "t.pdf") as doc:
        return [page_label(doc, i) for i in range(len(doc))]


# --- reading labels -------------------------------------------------------------------------


def test_roman_front_matter_then_arabic_from_one():
    assert labels(book_pdf()) == ["i", "ii", "iii", "iv", "1", "2", "3"]


def test_no_labels_or_labels_equal_to_the_index_are_none():
    assert labels(make_pdf(["One.", "Two."])) == [None, None]
    assert labels(book_pdf(front=[])) == [None, None, None]  # "1", "2", "3" on pages 1, 2, 3: nothing to add


def test_labels_are_one_clean_line_of_bounded_length():
    pdf = FPDF()
    pdf.add_page(label_style="D", label_prefix="Annex\x07\t\nA-")  # control characters from a careless tool
    pdf.add_page(label_style="D", label_prefix="X" * 50, label_start=7)  # longer than the column
    pdf.add_page(label_style="D", label_prefix="\u202e", label_start=3)  # an invisible override...
    # ... leaves "3" on page 3: the index, nothing to add
    assert labels(bytes(pdf.output())) == ["Annex A-1", "X" * (MAX_LABEL_CHARS - 1) + "…", None]


def test_citation_prints_the_label_and_falls_back_to_the_index():
    assert Citation(1, 7, "book.pdf", 5, "t", 0.9, page_label="1").label == "book.pdf, p. 1"
    assert Citation(1, 7, "slides.pdf", 5, "t", 0.9).label == "slides.pdf, p. 5"
    assert Citation(1, 7, "notes.txt", None, "t", 0.9).label == "notes.txt"


# --- stored, searched, cited ------------------------------------------------------------------


@pytest.fixture
def klass(services, instructor):
    return services.classes.create(instructor, "Botany")


def test_chunks_store_the_label_next_to_the_index(services, instructor, klass):
    res = upload(services, instructor, klass.id, "book.pdf", book_pdf())
    assert res.ok and res.pages == 7
    with services.db.transaction() as s:
        rows = s.execute(select(Chunk.page, Chunk.page_label).where(Chunk.document_id == res.document_id)
                         .order_by(Chunk.ordinal)).all()
    assert [tuple(r) for r in rows] == [(1, "i"), (2, "ii"), (3, "iii"), (4, "iv"), (5, "1"), (6, "2"), (7, "3")]


def test_an_answer_cites_the_printed_page_and_keeps_the_index(services, instructor, klass):
    upload(services, instructor, klass.id, "book.pdf", book_pdf())
    answer = services.chat.ask(instructor, klass.id, QUESTION)
    first = answer.citations[0]
    assert (first.document, first.page, first.page_label, first.label) == ("book.pdf", 6, "2", "book.pdf, p. 2")
    assert answer.to_dict()["citations"][0] | {"text": ""} == {
        "n": 1, "document": "book.pdf", "page": 6, "page_label": "2", "text": "", "score": round(first.score, 4)}
    # and so it stays in the history
    stored = services.chat.history(instructor, klass.id)[-1].citations[0]
    assert (stored.page, stored.page_label, stored.label) == (6, "2", "book.pdf, p. 2")


def test_the_front_matter_cites_its_roman_page(services, instructor, klass):
    upload(services, instructor, klass.id, "book.pdf", book_pdf())
    first = services.chat.ask(instructor, klass.id, "Who wrote the foreword about gardens?").citations[0]
    assert (first.page, first.label) == (3, "book.pdf, p. iii")


def test_a_pdf_without_labels_cites_the_index(services, instructor, klass):
    upload(services, instructor, klass.id, "slides.pdf", make_pdf(FRONT + BODY))
    first = services.chat.ask(instructor, klass.id, QUESTION).citations[0]
    assert (first.page, first.page_label, first.label) == (6, None, "slides.pdf, p. 6")


def test_text_files_cite_no_page(services, instructor, klass):
    upload(services, instructor, klass.id, "notes.txt", " ".join(BODY).encode())
    first = services.chat.ask(instructor, klass.id, QUESTION).citations[0]
    assert (first.page, first.page_label, first.label) == (None, None, "notes.txt")


def test_documents_from_before_labels_still_cite_their_index(services, instructor, klass):
    """Rows ingested before revision 0006 have page_label NULL, and chat history stored then has
    no page_label key at all: both show as before, with the index."""
    doc_id = upload(services, instructor, klass.id, "book.pdf", book_pdf()).document_id
    with services.db.transaction() as s:
        s.execute(update(Chunk).where(Chunk.document_id == doc_id).values(page_label=None))
        s.execute(update(Class).where(Class.id == klass.id).values(index_version=Class.index_version + 1))
        s.add(ChatMessage(class_id=klass.id, user_id=instructor.user_id, role="assistant", content="Old answer [1].",
                          citations=[{"n": 1, "document_id": doc_id, "document": "book.pdf", "page": 6,
                                      "text": "The Calvin cycle", "score": 0.5}]))
    [old] = services.chat.history(instructor, klass.id)
    assert (old.citations[0].page_label, old.citations[0].label) == (None, "book.pdf, p. 6")
    first = services.chat.ask(instructor, klass.id, QUESTION).citations[0]
    assert (first.page, first.page_label, first.label) == (6, None, "book.pdf, p. 6")


def test_cli_json_keeps_the_index_in_page_and_adds_page_label(services, instructor, klass, settings, monkeypatch,
                                                               capsys):
    upload(services, instructor, klass.id, "book.pdf", book_pdf())
    assert run_core(["ask", "--class", str(klass.id), "--json", QUESTION], settings, monkeypatch) == 0
    first = json.loads(capsys.readouterr().out)["citations"][0]
    assert (first["document"], first["page"], first["page_label"]) == ("book.pdf", 6, "2")
    assert run_core(["ask", "--class", str(klass.id), QUESTION], settings, monkeypatch) == 0
    assert "[1] book.pdf, p. 2" in capsys.readouterr().out


# --- the Chat page ----------------------------------------------------------------------------


def _ask(at, question=QUESTION):
    at.chat_input[0].set_value(question)
    return at.run()


@pytest.fixture
def previews(svc, monkeypatch):
    """Every page_preview call the app makes: (document_id, page, width_px, highlight)."""
    calls = []
    real = svc.documents.page_preview

    def spy(actor, document_id, page, width_px=800, highlight=None):
        calls.append((document_id, page, width_px, highlight))
        return real(actor, document_id, page, width_px=width_px, highlight=highlight)

    monkeypatch.setattr(svc.documents, "page_preview", spy)
    return calls


def test_chat_sources_show_the_printed_page_and_the_highlighted_picture(app_env, svc, setup, previews):
    prof, stu, klass = setup
    doc_id = upload(svc, prof, klass.id, "book.pdf", book_pdf()).document_id
    at = _ask(logged_in(app_env, "stu@example.edu", page_name="chat"))
    assert not at.exception
    first = at.expander[0]
    assert shown(first.label) == "[1] book.pdf, p. 2"
    [image] = first.get("image")
    caption = shown(image.proto.imgs[0].caption)
    assert caption.startswith("book.pdf, page 2 (PDF page 6)") and "highlighted" in caption
    # the picture is PDF page 6 (the index), with the cited passage marked on it
    assert previews == [(doc_id, 6, 800, BODY[1])]
    # local storage: the original comes as a download, the page stated on the button
    [download] = first.get("download_button")
    assert "page 2 (PDF page 6)" in shown(download.proto.label)


def test_the_full_size_page_opens_in_a_dialog(app_env, svc, setup, previews):
    prof, _, klass = setup
    doc_id = upload(svc, prof, klass.id, "book.pdf", book_pdf()).document_id
    at = _ask(logged_in(app_env, "stu@example.edu", page_name="chat"))
    [full] = [b for b in at.expander[0].button if "full size" in b.label]
    at = full.click().run()
    assert not at.exception
    assert (doc_id, 6, 1800, BODY[1]) in previews
    dialog = [b for b in at.get("dialog")]
    assert dialog, "the full-size page opens in a dialog"
    [big] = dialog[0].get("image")
    assert big.proto.imgs[0].url  # the 1800-px picture, served like any other
    [save] = dialog[0].get("download_button")
    assert shown(save.proto.label) == "Save this picture"


def test_s3_documents_link_to_the_original_at_the_page(app_env, svc, setup, monkeypatch):
    prof, _, klass = setup
    upload(svc, prof, klass.id, "book.pdf", book_pdf())
    asked = []

    def signed(actor, document_id, expires_s=300, inline=False):
        asked.append(inline)
        return "https://bucket.example/book.pdf?X-Amz-Signature=abc"

    monkeypatch.setattr(svc.documents, "download_url", signed)
    at = _ask(logged_in(app_env, "stu@example.edu", page_name="chat"))
    [link] = at.expander[0].get("link_button")
    assert link.proto.url == "https://bucket.example/book.pdf?X-Amz-Signature=abc#page=6"
    assert "page 2 (PDF page 6)" in shown(link.proto.label)
    assert not at.expander[0].get("download_button")
    assert asked and all(asked)  # shown in the browser: a saved file would ignore #page=


def test_a_pdf_without_labels_states_just_its_page(app_env, svc, setup):
    prof, _, klass = setup
    upload(svc, prof, klass.id, "slides.pdf", make_pdf(FRONT + BODY))
    at = _ask(logged_in(app_env, "stu@example.edu", page_name="chat"))
    assert shown(at.expander[0].label) == "[1] slides.pdf, p. 6"
    [image] = at.expander[0].get("image")
    assert shown(image.proto.imgs[0].caption).startswith("slides.pdf, page 6:")


def test_a_deleted_document_says_so_instead_of_its_page(app_env, svc, setup):
    prof, stu, klass = setup
    doc_id = upload(svc, prof, klass.id, "book.pdf", book_pdf()).document_id
    svc.chat.ask(stu, klass.id, QUESTION)
    svc.documents.delete(prof, doc_id)
    at = logged_in(app_env, "stu@example.edu", page_name="chat")
    assert not at.exception
    first = at.expander[0]
    assert shown(first.label) == "[1] book.pdf, p. 2"  # the answer still says where it came from
    assert not first.get("image") and not first.get("download_button")
    assert any("book.pdf has been deleted since this answer" in shown(c.value) for c in first.caption)
