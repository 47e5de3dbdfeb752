"""Everything pdfium does for ClassGPT: page texts and labels for ingestion, page pictures (with
the cited passage highlighted) for previews.

pdfium is not thread-safe and Streamlit is threaded, so every call runs under one process-wide
lock, and each document (and page, text page, bitmap) is closed before the lock is released:
otherwise the garbage collector frees pdfium objects at any time, on any thread.
"""
from __future__ import annotations

import ctypes
import io
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from core.errors import CorruptPDF, EncryptedPDF, FileTooLarge, NotFound, ValidationError
from core.text import one_line

PDFIUM_LOCK = threading.RLock()
MAX_PREVIEW_WIDTH_PX = 4000
# A preview's bitmap is 4 bytes a pixel: 16 M pixels is 64 MB. A tiny PDF can declare a page of
# any size, and pdfium would allocate whatever the scale asks for.
MAX_PREVIEW_PIXELS = 16_000_000
MAX_LABEL_CHARS = 32  # chunks.page_label's width
# A passage is a chunk (~180 words, ~1,200 characters); anything far longer is not one, and
# matching it against a page would only cost time.
MAX_HIGHLIGHT_CHARS = 20_000
HIGHLIGHT_RGBA = (255, 200, 0, 100)  # a highlighter's yellow; translucent, so the text stays legible
_SHINGLE = 16  # letters in each slice of a passage looked up on the page (~3 words: rarely a coincidence)
_MAX_OCCURRENCES = 50  # of one slice on one page: text repeated more than that is no landmark
_MAX_GAP = 16  # letters a differing glyph or two may leave between two shared runs of the same passage
_MIN_EDGE_RUN = 40  # letters (~8 words) of a passage's start or end that make "it runs on from this page"
_CLINGING = 3  # punctuation characters either side of a passage marked with it ('."' ends a quotation)
_PAD_PX = 1  # the highlight reaches a pixel past the glyphs, like a marker stroke


@dataclass(frozen=True)
class PdfPage:
    text: str  # pdfium's raw text of the page ("" for a page without text)
    label: str | None  # the page number the PDF declares ("xii", "51"); None when it says no more than the index


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


def read_pages(data: bytes, name: str, max_pages: int, max_chars: int) -> list[PdfPage] | None:
    """The raw text and label of every page, in order; None as soon as the text passes max_chars
    (a small file can unpack into far more text than it holds)."""
    with open_pdf(data, name) as doc:
        if len(doc) > max_pages:
            raise FileTooLarge(f"'{name}' has {len(doc):,} pages; ClassGPT reads at most {max_pages:,} pages "
                               "per document. Split it into parts and upload those.")
        try:
            pages, total = [], 0
            for i in range(len(doc)):
                pages.append(PdfPage(_page_text(doc, i), page_label(doc, i)))
                total += len(pages[-1].text)
                if total > max_chars:
                    return None
            return pages
        except pdfium.PdfiumError:
            raise CorruptPDF(
                f"'{name}' opened, but some of its pages are damaged and cannot be read. "
                "Try exporting it to PDF again, then upload the new copy."
            ) from None


def page_label(doc: pdfium.PdfDocument, index: int) -> str | None:
    """The label the PDF declares for page `index` (0-based) in its /PageLabels: a book's front
    matter is "i".."xii" and its page 1 is some way in, so the index is not what is printed.
    None when the PDF declares none, or one equal to the 1-based index (nothing to add)."""
    try:
        raw = doc.get_page_label(index)
    except (pdfium.PdfiumError, UnicodeDecodeError, ValueError):  # a damaged label tree costs the label only
        return None
    label = one_line(raw)  # labels are the PDF author's text: no line breaks or control characters
    if len(label) > MAX_LABEL_CHARS:
        label = label[: MAX_LABEL_CHARS - 1] + "…"
    return label if label and label != str(index + 1) else None


def render_page_png(pdf_bytes: bytes, page_number: int, width_px: int = 900, highlight: str | None = None) -> bytes:
    """Return page page_number (1-based) of the PDF as a PNG exactly width_px wide. With
    `highlight` (a passage's text), whatever part of it is on this page is marked; a passage
    not found on the page leaves the picture as it is."""
    if not 1 <= width_px <= MAX_PREVIEW_WIDTH_PX:
        raise ValidationError(f"A preview must be 1 to {MAX_PREVIEW_WIDTH_PX} pixels wide, not {width_px}.")
    if isinstance(page_number, bool) or not isinstance(page_number, int) or page_number < 1:
        raise ValidationError(f"Page numbers start at 1; {page_number!r} is not a page number.")
    if highlight is not None and len(highlight) > MAX_HIGHLIGHT_CHARS:
        raise ValidationError(f"A passage to highlight is at most {MAX_HIGHLIGHT_CHARS:,} characters, "
                              f"not {len(highlight):,}.")
    wanted = _keys(highlight or "")
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
            try:
                boxes = _passage_boxes(page, wanted, image.size) if wanted else []
            except pdfium.PdfiumError:  # a page whose text cannot be read is still worth seeing
                boxes = []
        finally:
            page.close()
    # Pure Pillow from here on: no need to hold the pdfium lock.
    if boxes:
        image = _mark(image, boxes)
    if image.width != width_px:  # rounding of width_pt * scale may be off by a pixel
        image = image.resize((width_px, max(1, round(image.height * width_px / image.width))))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


# ---- highlighting ------------------------------------------------------------------------------

def _keys(text: str) -> str:
    """What text and page are compared on: letters and digits only, case-folded, compatibility forms
    expanded ("ﬁ" → "fi"). Stored passages are whitespace-normalised, ligature-expanded and stripped
    of control glyphs, while the page's characters are as pdfium has them; this is what survives both."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def _page_keys(textpage: pdfium.PdfTextPage) -> tuple[str, list[int]]:
    """The page's keys (as _keys) and, for each, the index of the pdfium character it comes from."""
    keys: list[str] = []
    owners: list[int] = []
    for i in range(textpage.count_chars()):
        # character by character, not get_text_range: its text may skip or add characters, which
        # would shift every index after them
        for c in unicodedata.normalize("NFKC", chr(pdfium_c.FPDFText_GetUnicode(textpage, i))).casefold():
            if c.isalnum():
                keys.append(c)
                owners.append(i)
    return "".join(keys), owners


def matched_runs(page_keys: str, passage_keys: str) -> list[tuple[int, int]]:
    """Ranges [start, end) of page_keys that are the passage, or the part of it on this page;
    [] when the passage is not on the page."""
    if not page_keys or not passage_keys:
        return []
    at = page_keys.find(passage_keys)
    if at >= 0:  # the usual case: the whole passage, verbatim
        return [(at, at + len(passage_keys))]
    if len(passage_keys) < _SHINGLE:
        return []  # too short to be recognised in part
    # A glyph reads differently, or the passage runs on from (or into) another page. Look up
    # each 16-letter slice of the passage on the page (str.find: linear, in C; an alignment of
    # the two texts is quadratic, seconds under the pdfium lock on a dense page). Where the
    # passage is, the slices found sit on one diagonal (page position - passage position),
    # give or take the few letters a differing glyph adds or drops; stray slices (a phrase
    # repeated elsewhere) scatter.
    starts = list(range(0, len(passage_keys) - _SHINGLE + 1, _SHINGLE))
    if starts[-1] != len(passage_keys) - _SHINGLE:
        starts.append(len(passage_keys) - _SHINGLE)  # the passage's last letters too
    hits: list[tuple[int, int]] = []  # (diagonal, passage position)
    for j in starts:
        shingle = passage_keys[j : j + _SHINGLE]
        i = page_keys.find(shingle)
        for _ in range(_MAX_OCCURRENCES):
            if i < 0:
                break
            hits.append((i - j, j))
            i = page_keys.find(shingle, i + 1)
    if not hits:
        return []
    hits.sort()
    best_lo, best_hi, lo = 0, 0, 0
    for hi in range(len(hits)):  # the diagonal window of width _MAX_GAP holding the most slices
        while hits[hi][0] - hits[lo][0] > _MAX_GAP:
            lo += 1
        if hi - lo > best_hi - best_lo:
            best_lo, best_hi = lo, hi
    window = hits[best_lo : best_hi + 1]
    b0 = min(j for _, j in window)
    b1 = max(j for _, j in window) + _SHINGLE
    a0 = min(d + j for d, j in window)
    a1 = max(d + j for d, j in window) + _SHINGLE
    # the slices fall on a grid: extend letter by letter to where page and passage part
    while a0 > 0 and b0 > 0 and page_keys[a0 - 1] == passage_keys[b0 - 1]:
        a0, b0 = a0 - 1, b0 - 1
    while a1 < len(page_keys) and b1 < len(passage_keys) and page_keys[a1] == passage_keys[b1]:
        a1, b1 = a1 + 1, b1 + 1
    found = len({j for _, j in window}) * _SHINGLE  # letters of the passage seen on this diagonal
    if found >= len(passage_keys) / 2:  # most of the passage is here
        return [(a0, a1)]
    # Or its end opens this page (it began on the previous one), or its beginning closes this page
    # (it goes on to the next), long enough not to be a chance repetition. Where on the page
    # matters: a running header repeats a passage's first words at the top of every page.
    margin = max(_MAX_GAP, len(page_keys) // 5)  # room for a running header or footer
    long_enough = b1 - b0 >= _MIN_EDGE_RUN and found >= (b1 - b0) / 2
    ends_here = b1 >= len(passage_keys) - _MAX_GAP and a0 <= margin
    starts_here = b0 <= _MAX_GAP and a1 >= len(page_keys) - margin
    return [(a0, a1)] if long_enough and (ends_here or starts_here) else []


def _passage_boxes(page: pdfium.PdfPage, passage_keys: str, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (left, top, right, bottom) of the passage's text on a page rendered at `size`."""
    textpage = page.get_textpage()
    try:
        page_keys, owners = _page_keys(textpage)
        boxes = []
        for start, end in matched_runs(page_keys, passage_keys):
            first, last = _widen(textpage, owners[start], owners[end - 1])
            # pdfium's own text-selection rectangles: one per line, spaces between words included
            for r in range(textpage.count_rects(first, last - first + 1)):
                left, bottom, right, top = textpage.get_rect(r)
                box = _to_pixels(page, size, (left, top), (right, bottom))
                if box[2] > box[0] and box[3] > box[1]:
                    boxes.append(box)
        return boxes
    finally:
        textpage.close()


def _widen(textpage: pdfium.PdfTextPage, first: int, last: int) -> tuple[int, int]:
    """The character range grown over the punctuation that clings to it ("(", the final "."):
    only letters and digits were matched, but a reader sees the sentence end with its period."""
    def clinging(i: int) -> bool:
        return unicodedata.category(chr(pdfium_c.FPDFText_GetUnicode(textpage, i))).startswith("P")

    lo, hi, count = first, last, textpage.count_chars()
    while lo > 0 and first - lo < _CLINGING and clinging(lo - 1):
        lo -= 1
    while hi + 1 < count and hi - last < _CLINGING and clinging(hi + 1):
        hi += 1
    return lo, hi


def _to_pixels(page: pdfium.PdfPage, size: tuple[int, int], *points: tuple[float, float]) -> tuple[int, int, int, int]:
    """The pixel box around points of the page (PDF units), as pdfium renders it at `size`: its
    own transform, so rotated pages and offset crop boxes land where the picture shows them."""
    xs, ys = [], []
    for x, y in points:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, dx, dy)
        xs.append(dx.value)
        ys.append(dy.value)
    return (max(0, min(xs) - _PAD_PX), max(0, min(ys) - _PAD_PX),
            min(size[0], max(xs) + _PAD_PX), min(size[1], max(ys) + _PAD_PX))


def _mark(image: Image.Image, boxes: list[tuple[int, int, int, int]]) -> Image.Image:
    """The image with translucent boxes over the passage. Boxes are drawn onto one overlay, so
    where two overlap the colour does not double."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for box in boxes:
        draw.rectangle(box, fill=HIGHLIGHT_RGBA)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert(image.mode)


# ---- text and errors --------------------------------------------------------------------------

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
