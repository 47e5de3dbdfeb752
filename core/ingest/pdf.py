"""Everything pdfium does for ClassGPT: page texts for ingestion and page pictures for previews.

pdfium is not thread-safe and Streamlit is threaded, so every call runs under one process-wide
lock, and each document (and page, text page, bitmap) is closed before the lock is released:
otherwise the garbage collector frees pdfium objects at any time, on any thread.
"""
from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from core.errors import CorruptPDF, EncryptedPDF, FileTooLarge, NotFound, ValidationError

PDFIUM_LOCK = threading.RLock()
MAX_PREVIEW_WIDTH_PX = 4000
# A preview's bitmap is 4 bytes a pixel: 16 M pixels is 64 MB. A tiny PDF can declare a page of
# any size, and pdfium would allocate whatever the scale asks for.
MAX_PREVIEW_PIXELS = 16_000_000


@contextmanager
def open_pdf(data: bytes, name: str) -> Iterator[pdfium.PdfDocument]:
    """Hold the lock while a document opened from data is in use, and close it before release."""
    with PDFIUM_LOCK:
        try:
            # An empty user password is tried by pdfium itself, so such files just open.
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise _load_error(exc, name) from None
        try:
            yield doc
        finally:
            doc.close()


def page_texts(data: bytes, name: str, max_pages: int, max_chars: int) -> list[str] | None:
    """The raw text of every page, in order ("" for a page without text); None as soon as the
    text passes max_chars (a small file can unpack into far more text than it holds)."""
    with open_pdf(data, name) as doc:
        if len(doc) > max_pages:
            raise FileTooLarge(f"'{name}' has {len(doc):,} pages; ClassGPT reads at most {max_pages:,} pages "
                               "per document. Split it into parts and upload those.")
        try:
            texts, total = [], 0
            for i in range(len(doc)):
                texts.append(_page_text(doc, i))
                total += len(texts[-1])
                if total > max_chars:
                    return None
            return texts
        except pdfium.PdfiumError:
            raise CorruptPDF(
                f"'{name}' opened, but some of its pages are damaged and cannot be read. "
                "Try exporting it to PDF again, then upload the new copy."
            ) from None


def render_page_png(pdf_bytes: bytes, page_number: int, width_px: int = 900) -> bytes:
    """Return page page_number (1-based) of the PDF as a PNG exactly width_px wide."""
    if not 1 <= width_px <= MAX_PREVIEW_WIDTH_PX:
        raise ValidationError(f"A preview must be 1 to {MAX_PREVIEW_WIDTH_PX} pixels wide, not {width_px}.")
    if isinstance(page_number, bool) or not isinstance(page_number, int) or page_number < 1:
        raise ValidationError(f"Page numbers start at 1; {page_number!r} is not a page number.")
    with open_pdf(pdf_bytes, "This document") as doc:
        if page_number > len(doc):
            raise NotFound(f"Page {page_number} does not exist: this document has {len(doc)} page(s).")
        page = doc[page_number - 1]
        try:
            width_pt, height_pt = page.get_size()  # already accounts for the page's rotation
            scale = width_px / width_pt
            if width_px * height_pt * scale > MAX_PREVIEW_PIXELS:
                raise ValidationError(f"Page {page_number} is too large to preview ({width_pt:,.0f} × "
                                      f"{height_pt:,.0f} points); download the document to see it.")
            bitmap = page.render(scale=scale)
            try:
                image = bitmap.to_pil().copy()  # a copy owns its pixels once pdfium's buffer is freed
            finally:
                bitmap.close()
        finally:
            page.close()
    # Pure Pillow from here on: no need to hold the pdfium lock.
    if image.width != width_px:  # rounding of width_pt * scale may be off by a pixel
        image = image.resize((width_px, max(1, round(image.height * width_px / image.width))))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _page_text(doc: pdfium.PdfDocument, index: int) -> str:
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()


def _load_error(exc: pdfium.PdfiumError, name: str) -> Exception:
    code = getattr(exc, "err_code", None)
    if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return EncryptedPDF(
            f"'{name}' is password-protected, so its text cannot be read. Save a copy without "
            "the password (e.g. open it and use Print > Save as PDF) and upload that."
        )
    return CorruptPDF(
        f"'{name}' could not be opened as a PDF: it looks damaged or incomplete. Try downloading "
        "or exporting it again, then upload the new copy."
    )
