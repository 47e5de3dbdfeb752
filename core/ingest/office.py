"""PowerPoint (.pptx) and Word (.docx) files as pages, through python-pptx and python-docx.

A deck is cited by slide: each slide is one Page (number = the slide number, label = "7 · Its
title", shortened to fit chunks.page_label) whose text starts with the slide's title. Speaker notes
are read only when the uploader asks for them: they often hold remarks not meant for students.

A Word file has no fixed pages (Word lays them out when it opens the file), so a .docx is cited
by the page breaks the file records when it records any — `w:lastRenderedPageBreak`, where Word
last saw each page start, else the author's explicit page breaks — and otherwise by heading:
one Page per section, page None, label "§ <heading>" (docs/office.md).

Why not parse the XML by hand: both libraries already resolve the package's parts, styles and
placeholders; only the runs' page-break markers are read from python-docx's run elements.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.errors import FileTooLarge, IngestError, NoExtractableText
from core.ingest.formats import DOCX, PPTX, Page
from core.text import normalize_whitespace, one_line

_KIND = {PPTX: ("PowerPoint", ".pptx"), DOCX: ("Word", ".docx")}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: old Office, or an encrypted new one
ZIP_MAGIC = b"PK\x03\x04"
# An encrypted .pptx/.docx is a compound file holding these streams (MS-OFFCRYPTO); their names
# are stored in UTF-16 in its directory.
_ENCRYPTION_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
# What the package may unpack to: XML compresses ~10-50x, and lxml holds the whole tree in
# memory, so a small zip could otherwise take the server's memory (a "zip bomb").
MAX_UNPACKED_BYTES = 400 * 1024 * 1024
MAX_LABEL_CHARS = 32  # chunks.page_label's width
_SECTION = "§ "


class CorruptOffice(IngestError):
    """A .pptx/.docx that is not a readable Office Open XML package."""


class EncryptedOffice(IngestError):
    """A password-protected .pptx/.docx: its content is encrypted inside a compound file."""


def check_signature(name: str, content_type: str, head: bytes, data: bytes) -> None:
    """Refuse, by their first bytes, files named .pptx/.docx that cannot be one."""
    app, ext = _KIND[content_type]
    if head.startswith(OLE_MAGIC):
        if any(stream in data for stream in _ENCRYPTION_STREAMS):
            raise EncryptedOffice(
                f"'{name}' is password-protected, so its text cannot be read. Open it in {app}, remove the "
                "password (File > Info > Protect > Encrypt with Password, clear it), save, and upload again.")
        raise CorruptOffice(
            f"'{name}' is named {ext} but is an old-format {app} file (or a password-protected one). "
            f"Open it in {app}, save it as {ext} without a password (File > Save As), and upload again.")
    if not head.startswith(ZIP_MAGIC):
        raise CorruptOffice(f"'{name}' is named {ext} but is not a {app} file. "
                            f"Save it from {app} as {ext}, or upload it with its real extension.")


@dataclass
class _Builder:
    """Collects one page's lines, and stops the whole file as soon as its text passes the cap."""
    name: str
    max_chars: int
    sep: str = "\n"  # between lines: a slide's bullets are lines, a Word file's paragraphs paragraphs
    total: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        text = text.strip()
        if text:
            self.lines.append(text)
            self.total += len(text) + 1
            if self.total > self.max_chars:
                raise FileTooLarge(f"'{self.name}' holds too much text; ClassGPT indexes at most "
                                   f"{self.max_chars:,} characters per document. Split it into parts and upload those.")

    def take(self) -> str:
        text, self.lines = normalize_whitespace(self.sep.join(self.lines)), []
        return text


def read_office(name: str, content_type: str, data: bytes, max_pages: int, max_chars: int,
                include_notes: bool = False) -> list[Page]:
    """The pages of a .pptx or .docx (signature already checked), or the IngestError that says why not."""
    app, ext = _KIND[content_type]
    damaged = CorruptOffice(f"'{name}' looks damaged or incomplete: ClassGPT cannot read it as a {app} file. "
                            f"Open it in {app}, save it again as {ext}, then upload the new copy.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise damaged from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileTooLarge(f"'{name}' unpacks to {unpacked / 2**20:,.0f} MB, over the "
                           f"{MAX_UNPACKED_BYTES / 2**20:,.0f} MB ClassGPT reads. Split it into parts and upload those.")
    try:
        if content_type == PPTX:
            pages = _read_pptx(name, data, max_pages, max_chars, include_notes)
        else:
            pages = _read_docx(name, data, max_pages, max_chars)
    except IngestError:
        raise
    except Exception:  # any failure inside the libraries means a package they cannot read
        raise damaged from None
    if not any(p.text for p in pages):
        what = "slides" if content_type == PPTX else "document"
        raise NoExtractableText(f"'{name}' has no text in its {what} (only pictures, or nothing). "
                                "ClassGPT answers from text: add the text, or export it as a PDF with OCR.")
    return pages


# ---- PowerPoint --------------------------------------------------------------------------------

def _read_pptx(name: str, data: bytes, max_pages: int, max_chars: int, include_notes: bool) -> list[Page]:
    from pptx import Presentation  # loaded with the first deck, not on every page of the app

    deck = Presentation(io.BytesIO(data))
    slides = list(deck.slides)
    if len(slides) > max_pages:
        raise FileTooLarge(f"'{name}' has {len(slides):,} slides; ClassGPT reads at most {max_pages:,} "
                           "per document. Split it into parts and upload those.")
    out = _Builder(name, max_chars)
    pages = []
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = one_line(title_shape.text_frame.text) if title_shape is not None else ""
        out.add(title)
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            for line in _shape_lines(shape):
                out.add(line)
        if include_notes and slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                out.lines.append("")  # a paragraph of its own, apart from the slide's bullets
                out.add("Speaker notes: " + notes.text)
        body = out.take()
        if title and body.startswith(title):  # a paragraph break after the title: it heads the slide
            body = title + "\n\n" + body[len(title):].lstrip("\n")
        pages.append(Page(number, body, _slide_label(number, title), title or None))
    return pages


def _shape_lines(shape) -> Iterator[str]:
    """A shape's text, one line per paragraph (a bullet) or table row; groups read member by member."""
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        for member in shape.shapes:
            yield from _shape_lines(member)
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            yield one_line(paragraph.text)
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            yield _row([cell.text for cell in row.cells])


def _row(cells: list[str]) -> str:
    """A table row as one line, cells in order: "Python | 1991 | Guido van Rossum"."""
    return " | ".join(c for c in (one_line(cell) for cell in cells) if c)


# ---- Word --------------------------------------------------------------------------------------

def _read_docx(name: str, data: bytes, max_pages: int, max_chars: int) -> list[Page]:
    from docx import Document
    from docx.table import Table

    document = Document(io.BytesIO(data))
    blocks = list(document.iter_inner_content())  # paragraphs and tables, in reading order
    # Word writes a rendered break where each page began when it last laid the file out, explicit
    # ones included; counting both would count every explicit break twice.
    rendered = bool(document.element.body.xpath(".//w:lastRenderedPageBreak"))
    explicit = bool(document.element.body.xpath(".//w:br[@w:type='page']"))
    by_page = rendered or explicit
    out = _Builder(name, max_chars, sep="\n\n")
    pages: list[Page] = []
    heading: str | None = None

    def close(number: int | None, label: str | None, last: bool = False) -> None:
        if len(pages) >= max_pages:
            raise FileTooLarge(f"'{name}' has more than {max_pages:,} pages; ClassGPT reads at most "
                               f"{max_pages:,} per document. Split it into parts and upload those.")
        text = out.take()
        if by_page or text or (last and not pages):  # a heading section without text is no page
            pages.append(Page(number, text, label, heading if not by_page else None))

    for block in blocks:
        if isinstance(block, Table):
            for row in block.rows:
                out.add(_row([cell.text for cell in row.cells]))
            if by_page:
                breaks = len(block._element.xpath(".//w:lastRenderedPageBreak" if rendered else ".//w:br[@w:type='page']"))
                for _ in range(breaks):  # a table across pages: its text stays on the page it starts
                    close(len(pages) + 1, None)
            continue
        if by_page:
            parts = list(_paragraph_parts(block, rendered))
            for part in parts:
                if part is None:
                    close(len(pages) + 1, None)
                else:
                    out.add(part)
            continue
        text = one_line(block.text)
        if text and _is_heading(block):
            close(None, _section_label(heading))
            heading = text
        out.add(text)
    close(len(pages) + 1 if by_page else None, None if by_page else _section_label(heading), last=True)
    return pages


def _paragraph_parts(paragraph, rendered: bool) -> Iterator[str | None]:
    """The paragraph's text, with None where a page starts (a rendered or an explicit break)."""
    from docx.text.hyperlink import Hyperlink

    buf: list[str] = []
    runs = []
    for item in paragraph.iter_inner_content():
        runs.extend(item.runs if isinstance(item, Hyperlink) else [item])
    for run in runs:
        for element in run._r.xpath("w:br | w:cr | w:noBreakHyphen | w:ptab | w:t | w:tab | w:lastRenderedPageBreak"):
            tag = element.tag.rsplit("}", 1)[-1]
            page_break = (tag == "lastRenderedPageBreak") if rendered else (tag == "br" and element.type == "page")
            if page_break:
                yield one_line("".join(buf))
                buf = []
                yield None
            elif tag != "lastRenderedPageBreak":
                buf.append(str(element))
    yield one_line("".join(buf))


def _is_heading(paragraph) -> bool:
    try:
        style = paragraph.style.name or ""
    except Exception:  # a style the file names but does not define
        return False
    return style.startswith("Heading") or style == "Title"


def _slide_label(number: int, title: str | None) -> str:
    """"7 · Cooling the reactor": the slide number, and its title where it has one, for citations
    ("deck.pptx, slide 7 · Cooling the reactor"; core/answers/model.py)."""
    title = " ".join((title or "").split())
    label = f"{number} \u00b7 {title}" if title else str(number)
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "\u2026"


def _section_label(heading: str | None) -> str | None:
    """"§ Introduction": the section a passage is in, shortened to fit chunks.page_label."""
    if heading is None:
        return None
    label = _SECTION + heading
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"
