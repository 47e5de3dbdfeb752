"""The one lock around every pdfium call: pdfium is not thread-safe, and Streamlit is threaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from core.errors import CorruptPDF, EncryptedPDF

PDFIUM_LOCK = threading.RLock()


@contextmanager
def open_pdf(data: bytes, name: str) -> Iterator[pdfium.PdfDocument]:
    """Hold the lock while a document opened from data is in use, and close it before release.

    Closing inside the lock matters: otherwise pdfium objects are freed by the garbage
    collector, at any time, on any thread.
    """
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
