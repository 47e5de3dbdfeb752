"""The file formats ClassGPT reads, and what reading one gives: a file's pages.

Both readers (core/ingest/extract.py for PDF and text, core/ingest/office.py for .pptx and .docx)
and the services that name a file's type take these from here, so neither reader imports the other
for its vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

PDF = "application/pdf"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUPPORTED = {".pdf": PDF, ".pptx": PPTX, ".docx": DOCX, ".txt": "text/plain", ".md": "text/markdown",
             ".markdown": "text/markdown"}
OFFICE_TYPES = (PPTX, DOCX)
# old binary Office formats, named with the application that saves them anew and the extension to use
LEGACY = {".ppt": ("PowerPoint", ".pptx"), ".pps": ("PowerPoint", ".pptx"), ".pot": ("PowerPoint", ".pptx"),
          ".doc": ("Word", ".docx"), ".dot": ("Word", ".docx")}


@dataclass(frozen=True)
class Page:
    number: int | None  # 1-based PDF page / slide / Word page index; None for text files and Word sections
    text: str
    label: str | None = None  # the page number the PDF prints ("xii", "51"), the slide number, "§ <heading>"
    title: str | None = None  # a slide's title, a Word section's heading: what a text preview shows first


@dataclass(frozen=True)
class ExtractedDocument:
    content_type: str
    pages: list[Page]  # every PDF page (slide, Word page) in order, blank ones with text ""
    page_count: int  # PDF pages (slides, Word pages) including blank ones; 0 for text files and Word sections


def legacy_message(name: str, ext: str) -> str:
    app, new_ext = LEGACY[ext]
    return (f"'{name}' is an old {app} format ({ext}); ClassGPT reads {new_ext} files. Open it in {app}, "
            f"save it as {new_ext} (File > Save As), and upload again.")


def shown_as_text(filename: str) -> bool:
    """Whether a document's pages are previewed as text (slides, Word files) rather than pictures:
    its type was fixed by its extension at upload (extract.detect_content_type), so the name says it."""
    return SUPPORTED.get(PurePosixPath(filename).suffix.lower()) in OFFICE_TYPES
