"""The extractive answer: the definitions of the asked terms, then the sentences of the best
sources closest to the question, each followed by its [n].

Embedding the candidate sentences is nearly all of an ask's time (~25 ms a sentence on these
CPUs), so only a shortlist of the sentences that share the most (rarer) words with the question
is embedded. On half of SQuAD's questions: 10 sentences from the best 3 passages held a gold
answer 0.892 at p95 473 ms; 8 from the best 5, 0.906 at p95 374 ms (README "Measured").
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.answers.model import Citation
from core.answers.questions import QuestionForm
from core.answers.sentences import definition_strength, is_statement
from core.search.embeddings import Embedder
from core.search.terms import tokenize
from core.text import split_sentences

ANSWER_SENTENCES = 3
# the answer is composed from the best passages only: each candidate sentence costs an embedding
COMPOSE_FROM = 5
MAX_SENTENCES_PER_SOURCE = 12
SHORTLIST = 8  # sentences embedded per answer, picked by word overlap first
# Weight of the question's words beside the embedding's closeness when picking sentences: on the
# other half of SQuAD's questions (not the half the shortlist was sized on) the answer held a gold
# answer 0.860 with meaning alone, 0.877 / 0.879 / 0.872 at 0.3 / 0.5 / 0.8.
LEXICAL_WEIGHT = 0.4


Candidate = tuple[int, int, str]  # (source n, position in the passage, sentence)


def compose_extractive(embedder: Embedder, question: str, query_vec: np.ndarray, sources: Sequence[Citation],
                       form: QuestionForm = QuestionForm()) -> str:
    """The answer's sentences, each followed by its [n]: the definitions of the asked terms
    first (when the sources have them), then the sentences closest to the question."""
    pool = sources if form.asks_definition else sources[:COMPOSE_FROM]
    sentences: list[Candidate] = []
    for src in pool:
        sentences.extend((src.n, pos, s) for pos, s in enumerate(split_sentences(src.text)))
    chosen = _definitions(sentences, form)  # a glossary line with a formula still defines its term
    candidates = [c for c in sentences if c[1] < MAX_SENTENCES_PER_SOURCE and is_statement(c[2])]
    if not candidates and not chosen:
        return f"{sources[0].text.strip()} [{sources[0].n}]"
    rest = [c for c in candidates if c[0] <= COMPOSE_FROM and c not in chosen]
    if rest and len(chosen) < ANSWER_SENTENCES:
        rest = lexical_shortlist(question, rest, SHORTLIST)
        vectors = embedder.embed([c[2] for c in rest])
        # closeness to the question in meaning and in words, nudged toward the better-ranked passage
        scores = (vectors @ query_vec + LEXICAL_WEIGHT * np.array(word_overlaps(question, rest))
                  - 0.02 * np.array([c[0] for c in rest]))
        for i in np.argsort(-scores):
            if len(chosen) == ANSWER_SENTENCES:
                break
            if not any(_same_sentence(rest[i][2], c[2]) for c in chosen):
                chosen.append(rest[i])
    # the point first: definitions, then by closeness to the question
    return " ".join(f"{sentence.rstrip()} [{n}]" for n, _, sentence in chosen)


def _definitions(candidates: list[Candidate], form: QuestionForm) -> list[Candidate]:
    """For each asked term, its strongest defining sentence (the better-ranked source on ties)."""
    chosen: list[Candidate] = []
    for term in form.terms:
        scored = [(definition_strength(c[2], term), c) for c in candidates]
        best = max(scored, key=lambda sc: (sc[0], -sc[1][0], -sc[1][1]), default=(0.0, None))
        if best[0] > 0 and best[1] not in chosen:
            chosen.append(best[1])
    return chosen


def _same_sentence(a: str, b: str) -> bool:
    """The same sentence, give or take case, spacing and punctuation (repeated slides, overlaps)."""
    ta, tb = set(tokenize([a])[0]), set(tokenize([b])[0])
    if not ta or not tb:
        return a.strip().lower() == b.strip().lower()
    return len(ta & tb) >= 0.8 * max(len(ta), len(tb))


def lexical_shortlist(question: str, candidates: list[Candidate], size: int) -> list[Candidate]:
    """The `size` candidates sharing the most (rarer-weighted) stemmed words with the question;
    ties keep the better-ranked passage. Order within the result is the candidates' order."""
    if len(candidates) <= size:
        return candidates
    overlap = word_overlaps(question, candidates)
    keep = sorted(range(len(candidates)), key=lambda i: (-overlap[i], i))[:size]
    return [candidates[i] for i in sorted(keep)]


def word_overlaps(question: str, candidates: Sequence[Candidate]) -> list[float]:
    """Each candidate's share of the question's words, the rarer among the candidates weighing more."""
    query_terms = set(tokenize([question])[0])
    term_sets = [set(t) for t in tokenize([c[2] for c in candidates])]
    df = {t: sum(t in terms for terms in term_sets) for t in query_terms}
    weight = {t: math.log(1 + len(candidates) / df[t]) for t in query_terms if df[t]}
    total = sum(weight.values()) or 1.0
    return [sum(weight.get(t, 0.0) for t in terms & query_terms) / total for terms in term_sets]
