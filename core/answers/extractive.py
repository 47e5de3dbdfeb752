"""The extractive answer: the sentences of the sources closest to the question, each followed by its [n].

Embedding a sentence costs ~15 ms on these CPUs, so only a shortlist of the sentences that share
the most (rarer) words with the question is embedded: on SQuAD this halved the ask latency with
the same answer quality (README "Measured").
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.answers.model import Citation
from core.ingest.text import split_sentences
from core.search.embeddings import Embedder
from core.search.terms import tokenize

ANSWER_SENTENCES = 3
# the answer is composed from the best passages only: each candidate sentence costs an embedding
COMPOSE_FROM = 3
MAX_SENTENCES_PER_SOURCE = 12
SHORTLIST = 10  # sentences embedded per answer, picked by word overlap first


Candidate = tuple[int, int, str]  # (source n, position in the passage, sentence)


def compose_extractive(embedder: Embedder, question: str, query_vec: np.ndarray, sources: Sequence[Citation]) -> str:
    """The sentences of the best sources closest to the question, each followed by its [n]."""
    candidates: list[Candidate] = []
    for src in sources[:COMPOSE_FROM]:
        for pos, sentence in enumerate(split_sentences(src.text)[:MAX_SENTENCES_PER_SOURCE]):
            if is_statement(sentence):
                candidates.append((src.n, pos, sentence))
    if not candidates:
        return f"{sources[0].text.strip()} [{sources[0].n}]"
    candidates = lexical_shortlist(question, candidates, SHORTLIST)
    vectors = embedder.embed([c[2] for c in candidates])
    # closeness to the question, nudged toward the better-ranked passage
    scores = vectors @ query_vec - 0.02 * np.array([c[0] for c in candidates])
    chosen, seen = [], set()
    for i in np.argsort(-scores):
        key = candidates[i][2].lower()
        if key in seen:
            continue
        seen.add(key)
        chosen.append(candidates[i])
        if len(chosen) == ANSWER_SENTENCES:
            break
    # read in source order, and in reading order within a passage
    chosen.sort(key=lambda c: (c[0], c[1]))
    return " ".join(f"{sentence.rstrip()} [{n}]" for n, _, sentence in chosen)


def is_statement(sentence: str) -> bool:
    """A sentence worth quoting, not a slide heading or a label ("The Calvin cycle")."""
    words = len(sentence.split())
    return words >= 4 and (sentence.rstrip()[-1:] in ".!?;:)\"'”" or words >= 8)


def lexical_shortlist(question: str, candidates: list[Candidate], size: int) -> list[Candidate]:
    """The `size` candidates sharing the most (rarer-weighted) stemmed words with the question;
    ties keep the better-ranked passage. Order within the result is the candidates' order."""
    if len(candidates) <= size:
        return candidates
    query_terms = set(tokenize([question])[0])
    term_sets = [set(t) for t in tokenize([c[2] for c in candidates])]
    df = {t: sum(t in terms for terms in term_sets) for t in query_terms}
    weight = {t: math.log(1 + len(candidates) / df[t]) for t in query_terms if df[t]}
    overlap = [sum(weight.get(t, 0.0) for t in terms & query_terms) for terms in term_sets]
    keep = sorted(range(len(candidates)), key=lambda i: (-overlap[i], i))[:size]
    return [candidates[i] for i in sorted(keep)]
