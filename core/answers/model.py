"""What an answer is: its text, numbered citations, and how it was made."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CitedPage:
    """A cited page as it is kept after the answer (the query log, a vote, a check's result): enough
    to name and open the page, not its passage. The one record of "a cited page" everywhere."""

    document_id: int | None  # None once the document is gone from a record that outlived it
    document: str
    page: int | None  # 1-based page index (previews); None for files without pages
    page_label: str | None = None  # the page number printed on it, when the file declares one

    @property
    def printed_page(self) -> str | None:
        """What a reader looks for on the page: the declared label, else the index."""
        if self.page_label:
            return self.page_label
        return str(self.page) if self.page else None

    @property
    def label(self) -> str:
        return source_label(self.document, self.page, self.page_label)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CitedPage":
        """From a stored record (JSON); fields a record of another kind holds besides (a vote's `n`) are left."""
        return cls(d.get("document_id"), d.get("document") or "", d.get("page"), d.get("page_label"))


def cited_pages(citations: Iterable["Citation"]) -> list[CitedPage]:
    """The pages the citations name, each once, in their order."""
    return list(dict.fromkeys(c.cited_page for c in citations))


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: int
    document: str
    page: int | None  # 1-based page index (previews); None for files without pages
    text: str
    score: float  # the passage's cosine with the question
    page_label: str | None = None  # the page number the PDF declares, when it declares one

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def cited_page(self) -> CitedPage:
        return CitedPage(self.document_id, self.document, self.page, self.page_label)

    @property
    def printed_page(self) -> str | None:
        return self.cited_page.printed_page

    @property
    def label(self) -> str:
        return source_label(self.document, self.page, self.page_label)


def source_label(document: str, page: int | None, page_label: str | None) -> str:
    """How a source is named to people, wherever it is shown (answers, feedback, insights, checks):
    "notes.pdf, p. xii", "deck.pptx, slide 7 · Cooling", "notes.docx, § Introduction", "notes.txt"."""
    printed = page_label or (str(page) if page else None)
    if not printed:
        return document
    if printed.startswith("\u00a7"):  # a Word section without page breaks: "§ Introduction"
        return f"{document}, {printed}"
    if document.lower().endswith(".pptx"):  # a slide: its number and title (core/ingest/office.py)
        return f"{document}, slide {printed}"
    return f"{document}, p. {printed}"


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    found: bool = True  # the material covers the question
    latency_ms: float = 0.0
    related: list[Citation] = field(default_factory=list)  # closest passages when not found
    generated: bool = False  # written by the language model (else extractive)
    model: str | None = None
    notice: str | None = None  # what the reader should know: removed sentences, a fallback
    message_id: int | None = None  # the stored assistant message, for feedback

    def to_dict(self) -> dict:
        return {
            "answer": self.text,
            "found": self.found,
            "generated": self.generated,
            "model": self.model,
            "notice": self.notice,
            "citations": [_citation_dict(c) for c in self.citations],
            "related": [_citation_dict(c) for c in self.related],
        }

    def details(self) -> dict:
        """What is stored with the message besides text and citations."""
        return {"found": self.found, "generated": self.generated, "model": self.model, "notice": self.notice,
                "related": [c.to_dict() for c in self.related]}


def _citation_dict(c: Citation) -> dict:
    return {"n": c.n, "document": c.document, "page": c.page, "page_label": c.printed_page,
            "text": c.text, "score": round(c.score, 4)}
