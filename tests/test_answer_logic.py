"""The pieces of an answer, one by one: question forms, quotable sentences, definitions,
which passages become sources, and the coverage judgement."""
from __future__ import annotations

import numpy as np
import pytest

from core.answers.coverage import judge_coverage, question_terms
from core.answers.extractive import compose_extractive
from core.answers.model import Citation
from core.answers.questions import QuestionForm, is_follow_up, question_form
from core.answers.sentences import STRONG, WEAK, definition_strength, is_statement
from core.answers.sources import select_sources
from core.search.cache import IndexedChunk, Match, TermStatistics
from core.search.embeddings import FakeEmbedder
from core.search.hybrid import HybridIndex
from core.search.terms import tokenize


@pytest.mark.parametrize("question, terms, comparison", [
    ("What is a recursive function?", ("recursive function",), False),
    ("what's an iterator", ("iterator",), False),
    ("What does RAII stand for?", ("RAII",), False),
    ("Define gradient descent.", ("gradient descent",), False),
    ("What is meant by overfitting?", ("overfitting",), False),
    ("List vs tuple?", ("List", "tuple"), True),
    ("What's the difference between a list and a tuple?", ("list", "tuple"), True),
    ("How does a process differ from a thread?", ("process", "thread"), True),
    ("What is it used for?", (), False),
    ("What is this?", (), False),
    ("When was the steam engine invented?", (), False),
])
def test_question_forms(question, terms, comparison):
    form = question_form(question)
    assert form.terms == terms and form.comparison == comparison


@pytest.mark.parametrize("question, follow_up", [
    ("and tuples?", True), ("What about tuples?", True), ("why?", True), ("Who invented it?", True),
    ("Can you explain that more?", True),
    ("What is a recursive function?", False), ("What is word2vec?", False),
    ("When was the steam engine invented by Thomas Newcomen?", False),
])
def test_follow_ups(question, follow_up):
    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize("sentence, quotable", [
    ("A function that calls itself is recursive.", True),
    ("Tuples are immutable.", True),
    ("List comprehensions are a concise way to make lists.", True),
    ("What would happen if you called this function like this?", False),  # a question
    ("Exercise 5.1: Write a function that prints a countdown.", False),
    ("Write a function called countdown that counts down.", False),  # an exercise prompt
    ("Traceback (most recent call last):", False),
    ('File "countdown.py", line 3, in countdown', False),
    ("RecursionError: maximum recursion depth exceeded", False),
    (">>> countdown(3)", False),
    ("def countdown(n):", False),
    ("result = countdown(3) + 1", False),
    ("Chapter 5 Conditionals and recursion", False),  # a heading
])
def test_quotable_sentences(sentence, quotable):
    assert is_statement(sentence) is quotable


@pytest.mark.parametrize("sentence, term, strength", [
    ("A recursive function is a function that calls itself.", "recursive function", STRONG),
    ("In Python, a tuple is a sequence of values.", "tuples", STRONG),
    ("Tuples are immutable.", "tuple", STRONG),
    ("recursion: The process of calling the function that is currently executing.", "recursion", STRONG),
    ("The process of a function calling itself is called recursion.", "recursion", STRONG),
    ("A function that calls itself is recursive.", "recursive function", WEAK),
    ("We saw recursion in chapter 3.", "recursion", 0.0),
    ("What is recursion?", "recursion", 0.0),
])
def test_definitions(sentence, term, strength):
    assert definition_strength(sentence, term) == strength


def _match(chunk_id: int, text: str, cosine: float = 0.6, document_id: int = 1, page: int = 1) -> Match:
    return Match(IndexedChunk(chunk_id, document_id, f"doc{document_id}.pdf", "application/pdf", page, text), 1.0, cosine)


def test_sources_drop_headings_and_collapse_build_slides():
    matches = [
        _match(1, "Recursion\nChapters 5 and 6", page=1),  # a title slide
        _match(2, "A recursive function calls itself. It needs a base case.", page=2),
        _match(3, "A recursive function calls itself. It needs a base case. Each call gets a new frame.", page=3),
        _match(4, "Loops repeat a block of statements while a condition holds.", page=4, document_id=2),
        _match(5, "Stacks hold frames of calls that have not returned.", cosine=0.1, page=5),  # not about it
    ]
    sources = select_sources(matches, QuestionForm(), limit=5)
    # the fuller build slide stands for both, at the better rank; the title slide and the
    # irrelevant passage are gone
    assert [(c.n, c.page) for c in sources] == [(1, 3), (2, 4)]


def test_sources_put_the_defining_passage_first():
    matches = [
        _match(1, "We call countdown recursively and it prints the numbers in order.", page=10),
        _match(2, "Recursion in practice uses a base case to stop.", page=11),
        _match(3, "recursion: The process of calling the function that is currently executing.", page=250),
    ]
    sources = select_sources(matches, question_form("What is recursion?"), limit=5)
    assert sources[0].page == 250


def test_a_page_is_listed_once_but_passages_of_a_text_file_are_not_merged():
    matches = [
        _match(1, "A tuple is a sequence of values much like a list, indexed by integers.", page=46),
        _match(2, "Loops repeat a block of statements while a condition holds.", page=12),
        # the same page's next chunk: another passage, but not another source
        _match(3, "The important difference is that tuples are immutable, unlike lists.", page=46),
        _match(4, "Tuples are compared element by element, from the first.", page=47),
    ]
    sources = select_sources(matches, QuestionForm(), limit=5)
    assert [(c.n, c.page, c.text[:7]) for c in sources] == [(1, 46, "A tuple"), (2, 12, "Loops r"), (3, 47, "Tuples ")]
    text_file = [Match(IndexedChunk(i, 9, "notes.txt", "text/plain", None, t), 1.0, 0.6)
                 for i, t in enumerate(("Tuples are immutable sequences of values.",
                                        "Lists are mutable sequences that can grow and shrink."), start=1)]
    assert len(select_sources(text_file, QuestionForm(), limit=5)) == 2  # no pages: two passages, two sources


def _citation(n: int, text: str) -> Citation:
    return Citation(n, 1, "book.pdf", n, text, 0.5)


def test_definition_leads_the_answer_and_no_sentence_repeats():
    embedder = FakeEmbedder()
    sources = [
        _citation(1, "What would happen if you called countdown with a negative number? Recursion can run forever. "
                     "Recursion can run forever."),
        _citation(2, "Recursion is useful for trees. A recursive function is a function that calls itself."),
    ]
    question = "What is a recursive function?"
    text = compose_extractive(embedder, question, embedder.embed_query(question), sources,
                              question_form(question))
    assert text.startswith("A recursive function is a function that calls itself. [2]")
    assert "What would happen" not in text
    assert text.count("Recursion can run forever.") == 1


def test_comparison_gives_both_definitions():
    embedder = FakeEmbedder()
    sources = [_citation(1, "A list is a sequence of values. Lists can be changed in place."),
               _citation(2, "Tuples are immutable. You cannot assign to an element of a tuple.")]
    question = "List vs tuple?"
    text = compose_extractive(embedder, question, embedder.embed_query(question), sources, question_form(question))
    first_two = text.split("] ")[:2]
    assert "A list is a sequence of values." in first_two[0] and "Tuples are immutable." in first_two[1]


def test_coverage_uses_words_the_class_never_uses():
    embedder = FakeEmbedder()
    texts = ["A recursive function is a function that calls itself.",
             "A tuple is an immutable sequence of values.",
             "Loops repeat statements while a condition holds."]
    hybrid = HybridIndex.build([1, 2, 3], texts, embedder.embed(texts))
    chunks = {i: IndexedChunk(i, 1, "book.pdf", "application/pdf", i, t) for i, t in zip([1, 2, 3], texts)}

    def judge(question, cosine):
        matches = [Match(chunks[h.chunk_id], h.score, cosine)
                   for h in hybrid.search(question, embedder.embed_query(question), k=3)]
        held = [set(words) for words in tokenize(texts)]
        stats = TermStatistics(len(texts), {t: sum(t in h for h in held) for t in question_terms(question)})
        return judge_coverage(question, matches, stats)

    assert question_terms("What is word2vec?") == ["word2vec"]
    off = judge("What is word2vec?", cosine=0.35)
    assert not off.covered and off.unknown_terms == ("word2vec",) and off.term_coverage == 0.0
    on = judge("What is a recursive function?", cosine=0.35)
    assert on.covered and on.term_coverage == 1.0 and on.unknown_terms == ()
    # meaning alone carries a paraphrase the words miss; a weak match with no words does not
    assert judge("How do self-calling routines work?", cosine=0.6).covered
    assert not judge("How do self-calling routines work?", cosine=0.3).covered
    assert np.isclose(on.score, 0.35 + 0.3 * 1.0)
