"""Small, real files for tests: PDFs with known text per page, encrypted, scanned-looking, broken;
PowerPoint decks and Word files; and `upload`, which sends one through the app's own path.

PDFs are written with fpdf2 (a dev dependency) using the built-in Helvetica font, so page
text must be Latin-1; long texts wrap across lines.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

from fpdf import FPDF
from fpdf.enums import EncryptionMethod
from PIL import Image, ImageDraw


def upload(services, actor, class_id: int, filename: str, data: bytes, **options):  # noqa: ANN001
    """An upload as the app, the CLI and the benchmarks make one: submitted, then followed to its end
    (the IngestResult: ready, or failed with the reason)."""
    return services.ingestion.wait_for(services.ingestion.submit(actor, class_id, filename, data, **options))


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)  # one list item is one page, however long
    pdf.set_creator("ClassGPT tests")
    # a fixed date: the same pages make the same bytes (duplicate uploads are found by checksum),
    # also when two calls straddle a second
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=timezone.utc))
    return pdf


def _write_pages(pdf: FPDF, pages: list[str]) -> None:
    for text in pages:
        pdf.add_page()
        if text:
            # Small type so a few hundred words still fit on the single page they belong to.
            pdf.set_font("Helvetica", size=8 if len(text) > 2500 else 11)
            pdf.multi_cell(0, 4 if len(text) > 2500 else 6, text)


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with pages[i] as the text of page i + 1; "" gives a blank page."""
    pdf = _new_pdf()
    _write_pages(pdf, pages)
    return bytes(pdf.output())


def make_encrypted_pdf(pages: list[str], password: str = "secret") -> bytes:
    """A PDF that needs password to open; password="" gives one any reader opens (owner-locked only)."""
    pdf = _new_pdf()
    _write_pages(pdf, pages)
    pdf.set_encryption(owner_password="owner-" + password, user_password=password, encryption_method=EncryptionMethod.AES_128)
    return bytes(pdf.output())


def make_image_only_pdf(n_pages: int = 1) -> bytes:
    """A PDF whose pages are pictures of text with no text layer, like an un-OCRed scan."""
    pdf = _new_pdf()
    for i in range(n_pages):
        image = Image.new("L", (600, 800), color=255)
        draw = ImageDraw.Draw(image)
        draw.text((40, 40), f"Scanned page {i + 1}: these words are pixels only.", fill=0)
        draw.rectangle((40, 100, 560, 700), outline=0, width=3)
        pdf.add_page()
        pdf.image(image, x=10, y=10, w=190)
    return bytes(pdf.output())


def corrupt_pdf() -> bytes:
    """A PDF cut off part-way, as after an interrupted download: starts with %PDF but cannot be opened."""
    data = make_pdf(["This file was cut off before its end. " * 40, "Second page."])
    return data[: len(data) // 2]


def make_pptx(slides: list[tuple[str, list[str]]]) -> bytes:
    """A real .pptx (python-pptx): one slide per (title, bullet lines)."""
    from pptx import Presentation

    deck = Presentation()
    for title, bullets in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0] if bullets else ""
        for line in bullets[1:]:
            body.add_paragraph().text = line
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def make_docx(sections: list[tuple[str, list[str]]]) -> bytes:
    """A real .docx (python-docx) without page breaks: one heading and its paragraphs per section."""
    from docx import Document as WordDocument

    doc = WordDocument()
    for heading, paragraphs in sections:
        doc.add_heading(heading, level=1)
        for text in paragraphs:
            doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
