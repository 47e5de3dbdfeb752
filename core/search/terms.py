"""The words BM25 counts: lowercase, words of 2+ characters, no English stopwords, stemmed."""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from core.search import native

# "\w{2,}" finds the same words as bm25s's "\b\w\w+\b", about twice as fast.
_SPLIT = re.compile(r"\w{2,}").findall
_BLOCK = 2048  # documents analysed at a time: bounds the transient word lists


def _stems(words: list[str]) -> list[str]:
    stemmer = native.stemmer()
    return stemmer.stemWords(words) if stemmer is not None else words


def tokenize(texts: Iterable[str]) -> list[list[str]]:
    """Each text's terms, in order."""
    stop = native.english_stopwords()
    return [_stems([w for w in _SPLIT(t.lower()) if w not in stop]) for t in texts]


class Analysis:
    """Term ids for texts given part by part (a build streamed in batches), as one analyse() of them all.

    Each distinct word is filtered and stemmed once over all the parts, so the per-token work is one
    lookup. New terms extend a copy of the given `vocab` and known terms keep their ids (an index
    growing by a document); the given dict is not changed: a search may be reading it.
    """

    def __init__(self, vocab: dict[str, int] | None = None) -> None:
        self.vocab = dict(vocab) if vocab else {}
        self._word_id: dict[str, int] = dict.fromkeys(native.english_stopwords(), -1)

    def add(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's term ids."""
        vocab, word_id = self.vocab, self._word_id
        out: list[list[int]] = []
        for start in range(0, len(texts), _BLOCK):
            docs = [_SPLIT(t.lower()) for t in texts[start:start + _BLOCK]]
            new: set[str] = set()
            for words in docs:
                new.update(words)
            new.difference_update(word_id)
            if new:
                fresh = list(new)
                for word, stem in zip(fresh, _stems(fresh)):
                    word_id[word] = vocab.setdefault(stem, len(vocab))
            out.extend([i for i in map(word_id.__getitem__, words) if i >= 0] for words in docs)
        return out


def analyse(texts: Sequence[str], vocab: dict[str, int] | None = None) -> tuple[list[list[int]], dict[str, int]]:
    """Each text's term ids and the term -> id vocabulary (the same terms as tokenize); a given
    `vocab` is extended in a copy (see Analysis)."""
    analysis = Analysis(vocab)
    return analysis.add(texts), analysis.vocab
