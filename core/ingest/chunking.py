"""Cut extracted pages into overlapping passages (stored as `chunks` rows) that never cross a page boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.ingest.formats import Page
from core.text import segments


@dataclass(frozen=True)
class Passage:
    ordinal: int
    page: int | None  # the page's 1-based index; None for text files
    text: str
    page_label: str | None = None  # the page's printed number, when the PDF declares one


@dataclass
class _Piece:
    sep: str  # what joined it to the previous piece in the source: "", " ", "\n", "\n\n"
    text: str
    words: int


def chunk_pages(pages: Sequence[Page], chunk_words: int = 180, overlap_words: int = 30) -> list[Passage]:
    """Return the passages of all pages, numbered 0..n-1, each within a single page."""
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise ValueError("need chunk_words >= 1 and 0 <= overlap_words < chunk_words")
    chunks: list[Passage] = []
    for page in pages:
        for text in _chunk_text(page.text, chunk_words, overlap_words):
            chunks.append(Passage(ordinal=len(chunks), page=page.number, text=text, page_label=page.label))
    return chunks


def _pieces(text: str, chunk_words: int, overlap_words: int) -> list[_Piece]:
    """Sentences of text; a sentence longer than a chunk is cut into word runs that leave room for the overlap."""
    step = chunk_words - overlap_words
    out: list[_Piece] = []
    for sep, sentence in segments(text):
        words = sentence.split()
        if len(words) <= chunk_words:
            out.append(_Piece(sep, sentence, len(words)))
            continue
        for i in range(0, len(words), step):
            part = words[i : i + step]
            out.append(_Piece(sep if i == 0 else " ", " ".join(part), len(part)))
    return out


def _join(pieces: Sequence[_Piece]) -> str:
    return "".join((p.sep if i else "") + p.text for i, p in enumerate(pieces))


def _chunk_text(text: str, chunk_words: int, overlap_words: int) -> list[str]:
    """Pack sentences greedily; prefer to cut at a paragraph; overlap cuts made mid-paragraph."""
    pieces = _pieces(text, chunk_words, overlap_words)
    if sum(p.words for p in pieces) <= chunk_words:
        return [_join(pieces)] if pieces else []
    out: list[str] = []
    current: list[_Piece] = []
    size = 0
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if not current or size + piece.words <= chunk_words:
            current.append(piece)
            size += piece.words
            i += 1
            continue
        # Full. Cut at the last paragraph start if that keeps at least half a chunk.
        cut = len(current)
        running = 0
        for j, p in enumerate(current):
            if j and p.sep == "\n\n" and running >= chunk_words // 2:
                cut = j
            running += p.words
        at_paragraph = cut < len(current) or piece.sep == "\n\n"
        out.append(_join(current[:cut]))
        if at_paragraph:
            current = current[cut:]  # the started paragraph moves on whole; no overlap needed
        else:
            current = _overlap(current, overlap_words)
            if sum(p.words for p in current) + piece.words > chunk_words:
                current = []  # the overlap would leave no room for the next sentence
        size = sum(p.words for p in current)
    if current:
        out.append(_join(current))
    return out


def _overlap(chunk: Sequence[_Piece], overlap_words: int) -> list[_Piece]:
    """The trailing sentences of chunk that fit in overlap_words (else its last words)."""
    if overlap_words == 0:
        return []
    tail: list[_Piece] = []
    total = 0
    for piece in reversed(chunk):
        if total + piece.words > overlap_words:
            break
        tail.insert(0, piece)
        total += piece.words
    if tail:
        return tail
    words = chunk[-1].text.split()[-overlap_words:]
    return [_Piece("", " ".join(words), len(words))]
