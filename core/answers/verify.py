"""Checking a generated answer's citations: every sentence must cite a source that supports it.

A sentence is supported by a source when its meaning is close to something the source says
(its best cosine with the source's sentences) and its content words are there (stemmed
overlap), and every number it states appears in that source: a fabricated figure must not survive.
Unsupported sentences are dropped, wrong citations moved to the source that supports the sentence,
citations of sources that do not exist removed. Thresholds and how they were measured: docs/llm.md.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.answers.generate import NOT_COVERED
from core.answers.model import Citation
from core.search.embeddings import Embedder
from core.search.terms import tokenize
from core.text import normalize_whitespace, segments, split_sentences

# support = 0.4 · cosine + 0.6 · share of the sentence's content words found in the source.
# On SQuAD (812 question+answer claims against the passage holding the answer, and against the
# closest other passage of the same article), support >= 0.55 keeps 90.4 % of the supported
# claims and 10.7 % of the wrongly attributed ones; the word overlap separates the two better
# than the cosine does, hence its larger weight (docs/llm.md, "Thresholds").
COSINE_WEIGHT = 0.4
MIN_SUPPORT = 0.55
# Fewer content words than this ("Yes.", "In short:") carry no claim to check: kept as they are,
# unless nothing else survives. Two words already state something ("ATP stores energy").
MIN_CLAIM_TERMS = 2
MAX_SOURCE_SENTENCES = 40  # a passage is ~180 words; this only bounds pathological ones

_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*(?:,|;|-|\u2013|and)\s*\d+)*)\s*\]", re.IGNORECASE)
_MARKER_WITH_SPACE = re.compile(r"\s*" + _MARKER.pattern, re.IGNORECASE)
_MARKER_RUN = rf"(?:\s*{_MARKER.pattern})+"
# "stroma. [1] It…": the citation belongs to the sentence before the full stop
_AFTER_STOP = re.compile(rf"([.!?\u2026]+)({_MARKER_RUN})", re.IGNORECASE)
_NOT_COVERED = re.compile(rf"^[\W_]*{NOT_COVERED.replace('_', '[_ ]')}[\W_]*", re.IGNORECASE)
_STRAY_MARKER = re.compile(rf"\b{NOT_COVERED}\b:?")  # the marker inside an answer: dropped, the rest checked
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_LIST_PREFIX = re.compile(r"^\s*(?:#{1,6}\s+|[-*+\u2022]\s+|\(?\d{1,3}[.)]\s+|\(?[a-zA-Z][)]\s+)")
_SEP_RANK = {"": 0, " ": 1, "\n": 2, "\n\n": 3}
# numbers written out in English course material count as the figure ("four stages" = "4 stages")
_WORD_NUMBERS = {w: str(i) for i, group in enumerate([
    ("zero",), ("one", "first"), ("two", "second", "twice"), ("three", "third"), ("four", "fourth"),
    ("five", "fifth"), ("six", "sixth"), ("seven", "seventh"), ("eight", "eighth"), ("nine", "ninth"),
    ("ten", "tenth"), ("eleven", "eleventh"), ("twelve", "twelfth")]) for w in group}


@dataclass(frozen=True)
class Verified:
    text: str  # the answer with only supported sentences, citations fixed ("" when nothing survived)
    cited: list[int]  # source numbers cited in text, in order of first use
    removed: int  # sentences dropped for lack of support
    repointed: int  # citations moved to the source that supports the sentence
    unknown: int  # citation numbers that did not exist, removed
    not_covered: bool  # the model said the sources do not cover the question
    added: int = 0  # sentences without a citation that got the one of the source supporting them

    @property
    def notice(self) -> str | None:
        """What the reader should know about the changes; None when nothing changed."""
        parts = [
            _count(self.removed, "sentence no source supports was removed", "sentences no source supports were removed"),
            _count(self.repointed, "citation was moved to the source that supports its sentence",
                   "citations were moved to the source that supports their sentence"),
            _count(self.unknown, "citation of a source that does not exist was removed",
                   "citations of sources that do not exist were removed"),
            _count(self.added, "missing citation was added", "missing citations were added"),
        ]
        parts = [p for p in parts if p]
        return "; ".join(parts) + "." if parts else None


@dataclass
class _Sentence:
    sep: str
    display: str  # as written, without its citation markers
    cited: list[int]  # valid source numbers, as written
    had_markers: bool  # cited anything, even a source that does not exist
    terms: set[str]
    numbers: set[str]
    row: int = -1  # its embedding's row, for claims

    @property
    def is_claim(self) -> bool:
        return len(self.terms) >= MIN_CLAIM_TERMS or bool(self.numbers)


def verify_citations(text: str, sources: Sequence[Citation], embedder: Embedder) -> Verified:
    """The answer with every sentence backed by a source it cites (see the module docstring)."""
    marker = _NOT_COVERED.match(text.strip())
    if marker:
        # the model's one-sentence "not covered" statement, in the student's language; no claims
        statement = split_sentences(_strip_markers(text.strip()[marker.end():]))
        return Verified(" ".join(statement[0].split()) if statement else "", [], 0, 0, 0, True)
    text = _AFTER_STOP.sub(lambda m: " " + m.group(2).strip() + m.group(1), _STRAY_MARKER.sub("", text))
    by_n = {s.n: s for s in sources}
    sentences, unknown = _parse(text, by_n)
    claims = [s for s in sentences if s.is_claim]
    support = _support(claims, sources, embedder) if claims else np.zeros((0, len(sources)))

    kept: list[tuple[_Sentence, list[int]]] = []
    removed = repointed = added = 0
    carry = ""  # the separator of dropped sentences: a paragraph break survives them
    for s in sentences:
        # a reply cut off at max_tokens ends mid-sentence, without a citation: not shown, not counted
        truncated = s is sentences[-1] and not s.had_markers and s.display[-1:] not in ".!?:;)\"'*"
        if truncated or not any(ch.isalnum() for ch in s.display):
            cites = None
        elif s.is_claim:
            cites = _citations_for(s, support[s.row], sources)
            removed += cites is None
        else:
            cites = s.cited
        if cites is None:
            carry = max(carry, s.sep, key=_SEP_RANK.__getitem__)
            continue
        if s.is_claim and not s.had_markers:
            added += 1
        elif s.is_claim:
            repointed += len(set(s.cited) - set(cites))
        s.sep, carry = max(s.sep, carry, key=_SEP_RANK.__getitem__), ""
        kept.append((s, cites))

    if not any(s.is_claim for s, _ in kept):  # connectives alone are no answer
        return Verified("", [], removed, repointed, unknown, False, added)
    return Verified(_render(kept), _first_use(kept), removed, repointed, unknown, False, added)


def _parse(text: str, by_n: dict[int, Citation]) -> tuple[list[_Sentence], int]:
    sentences, unknown = [], 0
    for sep, raw in segments(normalize_whitespace(text)):
        marks = [n for m in _MARKER.finditer(raw) for n in _marker_numbers(m.group(1))]
        unknown += len({n for n in marks if n not in by_n})
        cited = list(dict.fromkeys(n for n in marks if n in by_n))
        display = _strip_markers(raw)
        claim = _LIST_PREFIX.sub("", display)
        sentences.append(_Sentence(sep, display, cited, bool(marks), _content_terms(claim), _numbers(claim)))
    return sentences, unknown


def _support(claims: list[_Sentence], sources: Sequence[Citation], embedder: Embedder) -> np.ndarray:
    """(claims × sources) support scores; 0 where a figure of the claim is missing from the source."""
    source_terms = [set(t) for t in tokenize([s.text for s in sources])]
    source_numbers = [_numbers(s.text, words=True) for s in sources]
    overlap = np.zeros((len(claims), len(sources)))
    for i, s in enumerate(claims):
        s.row = i
        for k in range(len(sources)):
            if s.numbers <= source_numbers[k]:
                overlap[i, k] = len(s.terms & source_terms[k]) / len(s.terms) if s.terms else 1.0
    # Embedding is the cost (~15 ms a sentence on 2 cores): a pair whose overlap is below this
    # cannot reach MIN_SUPPORT even at cosine 1, so its source's sentences are not embedded.
    viable = overlap >= (MIN_SUPPORT - COSINE_WEIGHT) / (1 - COSINE_WEIGHT)
    units, owner = [], []
    for k in np.flatnonzero(viable.any(axis=0)):
        # sentences only: adding pairs of adjacent ones doubled the cost for one point (docs/llm.md)
        parts = split_sentences(sources[k].text)[:MAX_SOURCE_SENTENCES]
        units.extend(parts)
        owner.extend([k] * len(parts))
    if not units:
        return np.zeros_like(overlap)
    vectors = embedder.embed([re.sub(r"[*_`#]+", " ", _LIST_PREFIX.sub("", s.display)) for s in claims] + units)
    sims = vectors[:len(claims)] @ vectors[len(claims):].T
    owner_arr = np.asarray(owner)
    cos = np.full(overlap.shape, -1.0)
    for k in set(owner):
        cos[:, k] = sims[:, owner_arr == k].max(axis=1)
    return np.where(viable, COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * overlap, 0.0)


def _citations_for(s: _Sentence, scores: np.ndarray, sources: Sequence[Citation]) -> list[int] | None:
    """The cited sources that support the sentence; else the one that supports it best; else None."""
    index = {src.n: k for k, src in enumerate(sources)}
    supporting = [n for n in s.cited if scores[index[n]] >= MIN_SUPPORT]
    if supporting:
        return supporting
    best = int(np.argmax(scores)) if len(scores) else -1
    return [sources[best].n] if best >= 0 and scores[best] >= MIN_SUPPORT else None


def _render(kept: list[tuple[_Sentence, list[int]]]) -> str:
    """Each sentence followed by its citations, as the extractive answer writes them ("… stroma. [1]")."""
    return "".join((s.sep if i else "") + s.display + (" " + "".join(f"[{n}]" for n in cites) if cites else "")
                   for i, (s, cites) in enumerate(kept))


def _first_use(kept: list[tuple[_Sentence, list[int]]]) -> list[int]:
    return list(dict.fromkeys(n for _, cites in kept for n in cites))


def _content_terms(sentence: str) -> set[str]:
    """The sentence's stemmed content words (BM25's analysis), without the function words of the
    other common languages of course material too: an answer in French must not count "de", "la"
    or "dans" as support found in a French source."""
    foreign = _foreign_function_words()
    return set(tokenize([" ".join(w for w in re.findall(r"\w+", sentence) if w.lower() not in foreign)])[0])


@functools.cache
def _foreign_function_words() -> frozenset[str]:
    from bm25s import stopwords  # loaded by tokenize() already (native.english_stopwords)

    return frozenset().union(*(getattr(stopwords, f"STOPWORDS_{lang}") for lang in
                               ("FRENCH", "GERMAN", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH")))


def _marker_numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", group, flags=re.IGNORECASE):
        bounds = re.split(r"\s*[-\u2013]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit() and 0 <= int(bounds[1]) - int(bounds[0]) < 10:
            out.extend(range(int(bounds[0]), int(bounds[1]) + 1))  # "[1-3]"
        else:
            out.extend(int(b) for b in bounds if b.isdigit())
    return out


def _numbers(text: str, words: bool = False) -> set[str]:
    """The figures in text, canonical ("1,000" = "1000", "3,5" = "3.5"); with `words`, also the
    small numbers written out in English."""
    found = set()
    for raw in _NUMBER.findall(text):
        raw = raw.rstrip(".,")
        found.add(raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw) else raw.replace(",", "."))
    if words:
        found.update(_WORD_NUMBERS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _WORD_NUMBERS)
    return found


def _strip_markers(text: str) -> str:
    """Text without its citation markers, and without the space that stood before each ("stroma [1]." -> "stroma.")."""
    return " ".join(_MARKER_WITH_SPACE.sub("", text).split())


def _count(n: int, one: str, many: str) -> str:
    return "" if n == 0 else f"{n} {one if n == 1 else many}"
