"""Render one PDF page to a PNG, for citation previews."""

from __future__ import annotations

import io

from core.errors import NotFound, ValidationError
from core.ingest.pdf import open_pdf

MAX_WIDTH_PX = 4000


def render_page_png(pdf_bytes: bytes, page_number: int, width_px: int = 900) -> bytes:
    """Return page page_number (1-based) of the PDF as a PNG exactly width_px wide."""
    if not 1 <= width_px <= MAX_WIDTH_PX:
        raise ValidationError(f"A preview must be 1 to {MAX_WIDTH_PX} pixels wide, not {width_px}.")
    if isinstance(page_number, bool) or not isinstance(page_number, int) or page_number < 1:
        raise ValidationError(f"Page numbers start at 1; {page_number!r} is not a page number.")
    with open_pdf(pdf_bytes, "This document") as doc:
        if page_number > len(doc):
            raise NotFound(f"Page {page_number} does not exist: this document has {len(doc)} page(s).")
        page = doc[page_number - 1]
        try:
            width_pt, _ = page.get_size()  # already accounts for the page's rotation
            bitmap = page.render(scale=width_px / width_pt)
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
