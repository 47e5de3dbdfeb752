"""Plain-text helpers every floor shares: a name as one line, whitespace, sentences (extraction,
chunking, answers and services all use them, so they live below each of them)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Control characters other than \t and \n (PDF fonts without a Unicode map leak these),
# plus the Unicode non-characters pdfium uses as markers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_ZERO_WIDTH = re.compile(r"[\u00ad\u200b-\u200d\u2060]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def one_line(text: str) -> str:
    """A name as one line of visible text: control and format characters (line breaks, NUL, the
    bidirectional overrides that make "\u202egnp.txt" display as "txt.png") removed, spaces collapsed."""
    visible = "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf") else " " for ch in text or "")
    return " ".join(visible.split())


def normalize_whitespace(text: str) -> str:
    """Return text with control characters removed, spaces collapsed and paragraph breaks kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _ZERO_WIDTH.sub("", text)
    lines = []
    for line in text.split("\n"):
        # A space, not nothing: the unmapped glyph stood between two words.
        cleaned = _SPACES.sub(" ", _CONTROL.sub(" ", line)).strip()
        if cleaned or not _CONTROL.search(line):  # a line of only such glyphs is no paragraph break
            lines.append(cleaned)
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


# Words that end with a period but rarely end a sentence (compared lower-case, without the dot).
ABBREVIATIONS = frozenset(
    """
    e.g i.e cf vs viz al approx ca resp esp incl dept univ assoc est
    mr mrs ms dr prof sr jr st mt rev gen col lt sgt capt
    fig figs eq eqs sec ch chap vol vols pp ref refs thm lem def prop cor ex
    jan feb mar apr jun jul aug sep sept oct nov dec
    u.s u.k u.n ph.d m.sc b.sc a.m p.m
    """.split()
)

# A bullet at the start of a line: symbol bullets, "-", "*", "1.", "1)", "(a)", "a)".
_BULLET = re.compile(r"^(?:[\u2022\u2023\u25aa\u25ab\u25cf\u25cb\u25e6\u2043\u2219\u27a2\u2794\u25b6\u25ba\u2192\u2713\u2714\u274f\u2752\u25a1\u25a0\u00b7*+\-\u2013\u2014]\s|\(?[0-9]{1,3}[.)]\s|\(?[a-zA-Z][)]\s|\([ivx]{1,4}\)\s)")
_HEADING = re.compile(r"^#{1,6}\s")
# A sentence end: terminal punctuation, optional closing quotes/brackets, whitespace, then
# something that can open a sentence (capital, digit, opening quote or bracket).
_BULLET_SYMBOLS = "\u2022\u2023\u25aa\u25ab\u25cf\u25cb\u25e6\u2043\u2219\u27a2\u2794\u25b6\u25ba\u2713\u2714\u274f\u2752\u25a1\u25a0"
# ... or a bullet symbol: PDFs often run a slide's bullets into one line ("... threshold. ❒ ROC – ...")
_BOUNDARY = re.compile(r"([.!?\u2026]+)([\"'\u2019\u201d)\]]*)\s+(?=[\"'\u2018\u201c(\[]?[A-Z0-9\u00c0-\u00de]|[" + _BULLET_SYMBOLS + "])")
_ENUMERATOR = re.compile(r"^\(?(?:[0-9]{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]$")  # "1." starting a list item
_LAST_TOKEN = re.compile(r"(\S+)$")
# Lines shorter than this that are followed by a capitalised line are headings or slide
# labels, not prose that wrapped; longer lines are joined with the next one.
_SHORT_LINE = 45
# "recursion: The process of ..." on a line of its own is a glossary entry, even in lower case
_GLOSSARY_ENTRY = re.compile(r"^[\w][\w '\-/()]{0,40}:\s+[A-Z(\u00c0-\u00de]")


def _is_abbreviation(before: str) -> bool:
    m = _LAST_TOKEN.search(before)
    if not m:
        return False
    token = m.group(1).lstrip("(\"'\u2018\u201c[").lower()
    if token in ABBREVIATIONS:
        return True
    # Initials ("J. Smith"), and dotted acronyms not listed above ("e.g.", "U.S.A").
    raw = m.group(1).lstrip("(\"'\u2018\u201c[")
    if len(raw) == 1:
        return raw.isupper()
    return "." in token and len(token) <= 5 and token.replace(".", "").isalpha()


def _split_unit(unit: str) -> list[str]:
    """Split one run of prose (no line breaks) at sentence ends, and before a bullet symbol."""
    return [s for part in _INLINE_BULLET.split(unit) for s in _split_sentences(part)]


# a bullet symbol then a space, inside a line: the PDF ran a slide's bullets together
_INLINE_BULLET = re.compile(r"\s+(?=[" + _BULLET_SYMBOLS + r"]\s)")


def _split_sentences(unit: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(unit):
        sentence = unit[start : m.end(2)].strip()
        if m.group(1) == "." and (_is_abbreviation(unit[start : m.start(1)]) or _ENUMERATOR.match(sentence)):
            continue
        if sentence:
            out.append(sentence)
        start = m.end()
    tail = unit[start:].strip()
    if tail:
        out.append(tail)
    return out


def _line_units(paragraph: str) -> Iterator[str]:
    """Group a paragraph's lines into runs of prose (wrapped lines are joined)."""
    buf: list[str] = []
    for line in paragraph.split("\n"):
        line = line.strip()
        if not line:
            continue
        if buf:
            prev = buf[-1]
            new_unit = (
                _BULLET.match(line)
                or _HEADING.match(line)
                or _HEADING.match(buf[0])
                or (len(prev) < _SHORT_LINE and not line[:1].islower() and prev[-1:] not in ",;:-(")
                or (_GLOSSARY_ENTRY.match(line) and (len(prev) < _SHORT_LINE or prev[-1:] in ".!?"))
            )
            if new_unit:
                yield " ".join(buf)
                buf = []
        buf.append(line)
    if buf:
        yield " ".join(buf)


def segments(text: str) -> Iterator[tuple[str, str]]:
    """Yield (separator, sentence): separator is "\\n\\n" before a paragraph, "\\n" before a line, else " "."""
    first = True
    for paragraph in _MANY_NEWLINES.sub("\n\n", text).split("\n\n"):
        for u_index, unit in enumerate(_line_units(paragraph)):
            for s_index, sentence in enumerate(_split_unit(unit)):
                if first:
                    sep = ""
                    first = False
                elif u_index == 0 and s_index == 0:
                    sep = "\n\n"
                elif s_index == 0:
                    sep = "\n"
                else:
                    sep = " "
                yield sep, sentence


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; bullet lines, headings and slide labels stand alone."""
    return [sentence for _, sentence in segments(normalize_whitespace(text))]
