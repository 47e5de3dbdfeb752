"""Does the class's material cover the question at all? Better "not covered" than a guess.

Two signals the index already has, combined:
- meaning: the best cosine between the question and a retrieved passage;
- words: the share of the question's content words that the best passages hold, each word
  weighted by its rarity in the class (IDF). A word the class never uses ("word2vec" in a
  Python course) weighs most and is missing from every passage.

covered  <=>  best_cosine + TERM_WEIGHT * term_coverage >= THRESHOLD

Cosine alone is a weak signal here (on SQuAD a quarter of off-topic questions reach the 0.25 a
relevant passage needs); the words separate what cosine cannot. The two constants were chosen
on the shared SQuAD articles split into in-class and off-topic halves, every pair of articles
once in the class, also with 350 unrelated lecture-slide passages added to each class (a larger
vocabulary lets more off-topic words match): README "Measured" and docs/retrieval.md.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.search.terms import tokenize

if TYPE_CHECKING:
    from core.search.cache import Match, TermStatistics

THRESHOLD = 0.52
TERM_WEIGHT = 0.3
# Covered, but by less than this above the threshold: "answered weakly". Off-topic questions crowd
# the band around the threshold (docs/answers.md: 0.50 instead of 0.52 let 0.136 instead of 0.100 of
# off-topic questions through; 0.55 refused 1.8 % of on-topic ones), so an answer there may be a lucky
# match rather than real coverage, and is worth an instructor's look (Insights).
WEAK_MARGIN = 0.06
PASSAGES_CHECKED = 3  # the best passages whose words count
NEUTRAL_TERM_COVERAGE = 0.5  # a question of only frame words ("why?") is judged by its meaning
# Words that frame a question rather than say what it is about (compared after stemming).
FRAME_WORDS = frozenset(tokenize([
    "what which who whom whose when where why how explain describe define definition mean meaning means "
    "difference differences differ between example examples called name named use used does do tell "
    "please give show find versus vs compare"
])[0])


@dataclass(frozen=True)
class Coverage:
    covered: bool
    score: float
    best_cosine: float
    term_coverage: float  # IDF-weighted share of the question's words the best passages hold
    unknown_terms: tuple[str, ...]  # question words (stemmed) that no passage of the class holds
    term_weights: dict[str, float] = field(default_factory=dict)  # each question word's IDF in the class

    @property
    def weak(self) -> bool:
        """Covered only just: the score is barely above the threshold. Below it, an answer exists only
        because the material defines the asked term outright: that is not weak."""
        return is_weak(self.score)


def is_weak(score: float) -> bool:
    return THRESHOLD <= score < THRESHOLD + WEAK_MARGIN


def question_terms(question: str) -> list[str]:
    """The question's content words, analysed as the index analyses text, without frame words."""
    return [t for t in dict.fromkeys(tokenize([question])[0]) if t not in FRAME_WORDS]


def judge_coverage(question: str, matches: Sequence[Match], stats: TermStatistics) -> Coverage:
    """Whether the retrieved `matches` (best first) are evidence that the class covers the question;
    `stats` are the question's terms' counts among the chunks the asker may see."""
    terms = question_terms(question)
    df = {t: stats.document_frequency.get(t, 0) for t in terms}
    unknown = tuple(t for t in terms if df[t] == 0)
    idf = {t: math.log(1 + stats.chunks / (df[t] + 0.5)) for t in terms}
    if not matches:
        return Coverage(False, 0.0, 0.0, 0.0, unknown, idf)
    best_cosine = max(m.cosine for m in matches)
    if terms:
        held = set().union(*(tokenize([m.chunk.text])[0] for m in matches[:PASSAGES_CHECKED]))
        term_coverage = sum(idf[t] for t in terms if t in held) / sum(idf.values())
    else:
        term_coverage = NEUTRAL_TERM_COVERAGE
    score = best_cosine + TERM_WEIGHT * term_coverage
    return Coverage(score >= THRESHOLD, score, best_cosine, term_coverage, unknown, idf)
