"""Which retrieved passages become an answer's numbered sources.

A source must be worth opening: a passage with no statement in it (a title slide, a heading)
is not one; near-duplicates (successive "build" slides that add one bullet each, a header
repeated on every page) collapse into the fullest of them; for a definition question, the
passages that define the term come first.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.answers.model import Citation
from core.answers.questions import QuestionForm
from core.answers.sentences import STRONG, definition_strength, is_statement
from core.search.cache import Match
from core.search.terms import tokenize
from core.text import split_sentences

# Two passages are the same source when this share of the smaller one's words is in the other.
DUPLICATE_CONTAINMENT = 0.8
SIMILAR_SIZE = 0.7
MIN_RELEVANCE = 0.25  # cosine below which a passage is not about the question
# Weight of "holds the question's words" beside retrieval's own score when ordering sources.
# BM25 saturates: a passage that repeats one rare word can outrank one holding all of them.
# On SQuAD, with the fused score as it is, the first passage held the answer 0.847 -> 0.872.
WORDS_WEIGHT = 0.5


@dataclass
class _Candidate:
    match: Match
    relevance: float
    terms: set[str]
    sentences: list[str]
    defines: float = 0.0  # strongest definition of an asked term in the passage


def select_sources(matches: Sequence[Match], form: QuestionForm, limit: int,
                   term_weights: Mapping[str, float] | None = None) -> list[Citation]:
    """The passages to cite, numbered from 1, best first. `term_weights` (the question's words
    and their IDF in the class) order the passages by how much of the question each holds, too."""
    weights = term_weights or {}
    total_weight = sum(weights.values()) or 1.0
    top_score = max((m.score for m in matches), default=0.0) or 1.0
    candidates = []
    for match in matches:
        if match.cosine < MIN_RELEVANCE:
            continue
        sentences = split_sentences(match.chunk.text)
        defines = max((definition_strength(s, term) for s in sentences for term in form.terms), default=0.0)
        if not defines and not any(is_statement(s) for s in sentences):
            continue  # a title or heading only: nothing in it answers anything
        terms = set(tokenize([match.chunk.text])[0])
        held = sum(w for t, w in weights.items() if t in terms) / total_weight
        candidate = _Candidate(match, match.score / top_score + WORDS_WEIGHT * held, terms, sentences, defines)
        candidates.append(candidate)
    kept = _collapse_duplicates(candidates)
    # a passage that defines the asked term first; then by relevance
    kept.sort(key=lambda c: (-c.defines, -c.relevance))
    return [_citation(n, c.match) for n, c in enumerate(_one_per_page(kept)[:limit], start=1)]


def _one_per_page(candidates: list[_Candidate]) -> list[_Candidate]:
    """A page is listed once: of two passages of one page (a page cut into two chunks), the better
    one. Files without pages (text) are cut by passage, and each passage stays a source of its own."""
    seen: set[tuple[int, int | str]] = set()
    out = []
    for c in candidates:  # best first
        chunk = c.match.chunk
        place = chunk.page if chunk.page is not None else chunk.page_label  # a Word section: "§ heading"
        if place is not None:
            if (chunk.document_id, place) in seen:
                continue
            seen.add((chunk.document_id, place))
        out.append(c)
    return out


def _collapse_duplicates(candidates: list[_Candidate]) -> list[_Candidate]:
    """One passage per group of near-duplicates: the fullest, with the group's best relevance."""
    kept: list[_Candidate] = []
    for cand in candidates:  # best rank first
        for i, other in enumerate(kept):
            same_document = cand.match.chunk.document_id == other.match.chunk.document_id
            if _near_duplicate(cand.terms, other.terms, same_document):
                if len(cand.terms) > len(other.terms):  # the later build slide holds more
                    cand.relevance = max(cand.relevance, other.relevance)
                    cand.defines = max(other.defines, cand.defines)
                    kept[i] = cand
                else:
                    other.relevance = max(cand.relevance, other.relevance)
                    other.defines = max(other.defines, cand.defines)
                break
        else:
            kept.append(cand)
    return kept


def _near_duplicate(a: set[str], b: set[str], same_document: bool) -> bool:
    """Mostly the same words; across documents also of a similar size (a slide's few words all
    occur in a textbook page without the two being the same text)."""
    small, large = sorted((len(a), len(b)))
    if small == 0 or (not same_document and small < SIMILAR_SIZE * large):
        return False
    return len(a & b) >= DUPLICATE_CONTAINMENT * small


def _citation(n: int, match: Match) -> Citation:
    chunk = match.chunk
    return Citation(n, chunk.document_id, chunk.filename, chunk.page, chunk.text, match.cosine,
                    getattr(chunk, "page_label", None))


def defines_asked_term(sources: Sequence[Citation], form: QuestionForm) -> bool:
    """Whether the first source (sources that define come first) defines an asked term outright."""
    if not sources or not form.asks_definition:
        return False
    return any(definition_strength(s, term) == STRONG for s in split_sentences(sources[0].text) for term in form.terms)
