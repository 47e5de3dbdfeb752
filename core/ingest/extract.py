"""Turn an uploaded file (PDF, PowerPoint, Word, TXT, Markdown) into page-numbered text, or a specific IngestError.

A PDF page keeps its 1-based index (what previews and `#page=` open) and the label the PDF
prints on it, when it declares one (/PageLabels: front matter "i".."xii", then "1"): a reader
looks for the printed number, which in a book is often far from the index.

PDF text comes from pypdfium2 (core/ingest/pdf.py): on the course slide decks it was ~10x
faster than pypdf and gave cleaner text (docs/pdf-extraction.md). Slides and Word pages or
sections come from core/ingest/office.py (docs/office.md).
"""

from __future__ import annotations

import codecs
import re
from pathlib import PurePosixPath

from core.errors import CorruptPDF, EmptyFile, FileTooLarge, NoExtractableText, UnsupportedType
from core.ingest.formats import LEGACY, OFFICE_TYPES, PDF, SUPPORTED, ExtractedDocument, Page, legacy_message
from core.text import normalize_whitespace, one_line

_SUPPORTED_HINT = ("Supported types: PDF (.pdf), plain text (.txt) and Markdown (.md, .markdown); "
                   "also PowerPoint (.pptx) and Word (.docx).")
_MB = 1024 * 1024

# Signatures of common binary formats someone might upload under a text name.
_MAGIC = {
    b"%PDF-": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (Word, PowerPoint and Excel files are ZIP archives)",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office file",
    b"{\\rtf": "an RTF document",
}
_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"})


MAX_FILENAME_CHARS = 255  # documents.filename's width


def clean_filename(filename: str) -> str:
    """The file's own name, without any folders a browser or client put in front of it."""
    name = one_line(PurePosixPath((filename or "").replace("\\", "/")).name)
    return name[:MAX_FILENAME_CHARS] or "untitled"


def detect_content_type(filename: str, data: bytes) -> str:
    """Return the MIME type of a supported file, judged by its extension and its first bytes."""
    name = clean_filename(filename)
    ext = PurePosixPath(name).suffix.lower()
    if problem := _type_problem(name, ext):
        raise UnsupportedType(problem)
    from core.ingest import office  # python-pptx/-docx themselves load only with the first Office file

    head = data[:1024]
    if SUPPORTED[ext] == PDF:
        if data and b"%PDF-" not in head:  # pdfium, like Acrobat, allows junk before the header
            raise CorruptPDF(
                f"'{name}' is named .pdf but is not a PDF (it does not start with %PDF). "
                "Export or download it again as a PDF, or upload it with its real extension."
            )
        return PDF
    if SUPPORTED[ext] in OFFICE_TYPES:
        office.check_signature(name, SUPPORTED[ext], head, data)
        return SUPPORTED[ext]
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            raise UnsupportedType(f"'{name}' is named {ext} but is {kind}, not text. {_SUPPORTED_HINT}")
    if b"\x00" in head and not head.startswith(tuple(bom for bom, _ in _BOMS)):
        raise UnsupportedType(_binary_message(name, ext))
    return SUPPORTED[ext]


# Types people pick by mistake, named in words with what to do instead: the uploader explains
# them as soon as they are chosen, with the same sentence the server uses to refuse them.
_SPREADSHEET = ("a spreadsheet", "Save or export it as a PDF (File > Save As or Export) and upload that.")
_IMAGE = ("an image", ("ClassGPT answers from text: for a scan or a photo of a page, run it through OCR "
                       "(text recognition) and save the result as a PDF."))
_OTHER_DOCUMENT = ("a document in another format", "Save it as Word (.docx) or PDF and upload that.")
_KINDS = {
    **dict.fromkeys((".xlsx", ".xls", ".xlsm", ".csv", ".ods", ".numbers"), _SPREADSHEET),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".svg"), _IMAGE),
    **dict.fromkeys((".odt", ".rtf", ".pages", ".epub", ".html", ".htm"), _OTHER_DOCUMENT),
    **dict.fromkeys((".key", ".odp"), ("a presentation in another format",
                                        "Export it as PowerPoint (.pptx) or PDF and upload that.")),
    **dict.fromkeys((".zip", ".rar", ".7z", ".tar", ".gz"), ("an archive", "Unpack it and upload the files inside.")),
}


def _type_problem(name: str, ext: str) -> str | None:
    """Why a file with this extension cannot be read, or None for a supported one."""
    if ext in SUPPORTED:
        return None
    if ext in LEGACY:
        return legacy_message(name, ext)
    if ext in _KINDS:
        kind, advice = _KINDS[ext]
        return f"'{name}' is {kind} ({ext}), which ClassGPT cannot read. {advice} {_SUPPORTED_HINT}"
    kind = f"a {ext} file" if ext else "a file without an extension"
    return f"'{name}' is {kind}, which ClassGPT cannot read. {_SUPPORTED_HINT}"


def _too_large_message(name: str, size: int, max_bytes: int) -> str:
    return (f"'{name}' is {_mb(size, max_bytes)} MB, over the {max_bytes / _MB:g} MB upload limit. "
            "Split it or compress it, then upload the parts.")


def _empty_message(name: str) -> str:
    return f"'{name}' is empty (0 bytes). Check that you picked the right file."


def unsupported_reason(filename: str, size: int, max_bytes: int | None = None) -> str | None:
    """Why a file cannot be uploaded, judged by its name and size alone (before its bytes are
    sent), or None when it may be: the same sentences extract() refuses such a file with."""
    name = clean_filename(filename)
    if problem := _type_problem(name, PurePosixPath(name).suffix.lower()):
        return problem
    if max_bytes is not None and size > max_bytes:
        return _too_large_message(name, size, max_bytes)
    if size == 0:
        return _empty_message(name)
    return None


MAX_PAGES = 2000
MAX_TEXT_CHARS = 5_000_000


def extract(filename: str, data: bytes, max_bytes: int | None = None, max_pages: int = MAX_PAGES,
            max_chars: int = MAX_TEXT_CHARS, *, include_notes: bool = False) -> ExtractedDocument:
    """Return the text of an uploaded file, page by page, or raise the IngestError that explains why not.
    Nothing a user uploads may exhaust the server: bytes, pages and characters are capped.
    A deck's speaker notes are read only with include_notes: they often hold private remarks."""
    name = clean_filename(filename)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(_too_large_message(name, len(data), max_bytes))
    if not data:
        raise EmptyFile(_empty_message(name))
    content_type = detect_content_type(filename, data)
    if content_type == PDF:
        doc = _extract_pdf(name, data, max_pages, max_chars)
    elif content_type in OFFICE_TYPES:
        from core.ingest.office import read_office

        pages = read_office(name, content_type, data, max_pages, max_chars, include_notes)
        paged = any(p.number is not None for p in pages)  # a Word file cited by heading has no pages
        doc = ExtractedDocument(content_type=content_type, pages=pages, page_count=len(pages) if paged else 0)
    else:
        if len(data) > 4 * max_chars:  # more characters than the cap, whatever the encoding
            raise _too_much_text(name, None, max_chars)
        text = normalize_whitespace(_decode(name, data))
        if not text:
            raise EmptyFile(f"'{name}' contains only blank space, no text.")
        doc = ExtractedDocument(content_type=content_type, pages=[Page(None, text)], page_count=0)
    chars = sum(len(p.text) for p in doc.pages)
    if chars > max_chars:
        raise _too_much_text(name, chars, max_chars)
    return doc


def _too_much_text(name: str, chars: int | None, max_chars: int) -> FileTooLarge:
    holds = f"holds {chars:,} characters of text" if chars is not None else "holds too much text"
    return FileTooLarge(f"'{name}' {holds}; ClassGPT indexes at most {max_chars:,} characters per document. "
                        "Split it into parts and upload those.")


def _extract_pdf(name: str, data: bytes, max_pages: int, max_chars: int) -> ExtractedDocument:
    from core.ingest.pdf import read_pages  # pdfium loads with the first PDF, not on the login page's path

    raw = read_pages(data, name, max_pages, max_chars)
    if raw is None:  # stopped as soon as the text passed the cap
        raise _too_much_text(name, None, max_chars)
    if not raw:
        raise CorruptPDF(f"'{name}' has no pages. Export it to PDF again, then upload the new copy.")
    pages = [Page(i + 1, normalize_whitespace(p.text.translate(_LIGATURES)), p.label) for i, p in enumerate(raw)]
    if not any(p.text for p in pages):
        count = f"any of its {len(pages)} pages" if len(pages) > 1 else "its page"
        raise NoExtractableText(
            f"'{name}' has no selectable text on {count}: it looks like a scan or a set of images. "
            "Run it through OCR (text recognition, e.g. in Acrobat or a scanner app) first, then upload the result."
        )
    return ExtractedDocument(content_type=PDF, pages=pages, page_count=len(pages))


def _decode(name: str, data: bytes) -> str:
    """Decode text: a BOM wins, then UTF-8, then Windows-1252, then Latin-1; refuse binary."""
    ext = PurePosixPath(name).suffix.lower()
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            break
    else:
        if b"\x00" in data:
            raise UnsupportedType(_binary_message(name, ext))
        for encoding in ("utf-8", "cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    if len(_BINARY_CONTROL.findall(text)) > max(8, len(text) // 100):
        raise UnsupportedType(_binary_message(name, ext))
    return text


def _binary_message(name: str, ext: str) -> str:
    return f"'{name}' is named {ext} but holds binary data, not text. {_SUPPORTED_HINT}"


def _mb(size: int, limit: int) -> str:
    """Size in MB with enough decimals that it never reads as equal to the limit."""
    for decimals in (1, 2, 3):
        shown = f"{size / _MB:.{decimals}f}"
        if float(shown) > limit / _MB:
            return shown
    return f"{size / _MB:.3f}"
