"""Which sentences of the material may be quoted as an answer, and which of them define a term.

Course material is full of text that is not an answer: exercise prompts and questions ("What
would happen if you called this function like this?"), slide headings, code, tracebacks. Quoting
them answered "What is a recursive function?" with an exercise; these checks keep them out.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from core.search.terms import tokenize

_MIN_WORDS = 3  # "Tuples are immutable." says it all
_LONG_ENOUGH = 8  # a run of this many words is prose even without a full stop (slide bullets)
_ENDS_LIKE_PROSE = ".!;:)\"'\u201d"
# A label that opens a line: "Exercise 3.2:", "2. Problem", "Question 4 -", "Solution:", "Answer 5)".
_LABEL = re.compile(
    r"^(?:\(?\d+[.)]\s*)?(?P<kind>exercises?|problems?|questions?|quiz|homework|assignments?|tasks?|challenges?|"
    r"hints?|solutions?|answers?)\s*(?:\d[\w.]*\s*[:.)\u2013\u2014-]?|[:.)\u2013\u2014-])\s*", re.I)
# What follows those labels in an exercise: the task itself, not something to quote.
_PROMPT_LABELS = frozenset({"exercise", "problem", "quiz", "homework", "assignment", "task", "challenge", "hint"})
# Instructions to the reader: imperative openers of textbook exercises.
_IMPERATIVE = re.compile(
    r"^(?:\(?\d+[.)]\s*)?(?:write|modify|rewrite|try|implement|extend|draw|prove|show\s+that|consider|suppose|"
    r"compute|calculate|determine|explain|describe|give|fill\s+in|what\s+would|find|define)\b", re.I)
# Code and tracebacks (case-sensitive: code keywords are lower-case, prose starts capitalised).
_CODE = re.compile(
    r">>>|^\s*(?:def|class)\s+\w+\s*[(:]|^\s*(?:import\s+[\w.]+|from\s+[\w.]+\s+import\b)"
    r"|^\s*(?:return|print)\b\s*[(\w]|^\s*(?:for|while|if|elif|with)\b[^.]*:\s*$|^\s*(?:else|try|finally)\s*:"
    r"|^\s*[\w.\[\]]+\s*[+\-*/]?=\s*\S|[{};]\s*$|Traceback \(most recent call last\)"
    r"|File \"[^\"]+\", line \d+|^\s*\w*(?:Error|Exception|Warning):", re.M)
_SYMBOLS = re.compile(r"[=(){}\[\]<>#$_\\/|^~`@*+]")
_MAX_SYMBOL_SHARE = 0.08  # share of characters that are code punctuation; prose rarely passes 3 %


def is_statement(sentence: str) -> bool:
    """A sentence worth quoting: prose that states something, not a heading, question, exercise
    prompt, code fragment or traceback."""
    text = sentence.strip()
    words = text.split()
    if len(words) < _MIN_WORDS or text.endswith("?"):
        return False
    if not (text[-1:] in _ENDS_LIKE_PROSE or len(words) >= _LONG_ENOUGH):
        return False
    if label := _LABEL.match(text):
        # "Exercise 2: ..." is a task; "Question 4: the field collapses at 7.3." in an answer key,
        # or "Solution: ...", states something unless what follows is itself a question or a task
        if label["kind"].lower().rstrip("s") in _PROMPT_LABELS or label["kind"].lower() == "quiz":
            return False
        return is_statement(text[label.end():])
    if _IMPERATIVE.match(text) or _CODE.search(text):
        return False
    return len(_SYMBOLS.findall(text)) <= _MAX_SYMBOL_SHARE * len(text)


# How a sentence defines a term T (T matched on its stems, so "tuples" defines "tuple"):
#   "A T is ...", "Ts are ...", "In Python, a T is ...", "T: the process of ..." (glossary; also
#   "T – ...", "T ― ..." as cheat-sheets write it), "T refers to / means / is defined as ...",
#   "... is called (a) T", "known as T".
_COPULA = r"(?:is|are|was|were|means|denotes|refers\s+to|describes|is\s+defined\s+as|are\s+defined\s+as|can\s+be\s+defined\s+as)"
_NAMING = r"(?:is|are)\s+(?:called|named|known\s+as|termed|referred\s+to\s+as)|(?:called|known\s+as|termed)"
_GLOSSARY_DASH = r"(?:[:\u2013\u2014\u2015]|\s-\s)"
_PAREN = r"(?:\s*\([^)]{0,60}\))?"
_ARTICLE = r"(?:(?:a|an|the)\s+)?"
STRONG, WEAK = 1.0, 0.5


@dataclass(frozen=True)
class _TermPatterns:
    copula: re.Pattern  # "A T is", "In Python, a T is"
    glossary: re.Pattern  # "T: ...", "❒ T – ..."
    naming: re.Pattern  # "is called T"
    anywhere: re.Pattern  # any of the three shapes anywhere in a passage (a cheap first look)
    stems: frozenset[str]


@functools.lru_cache(maxsize=256)
def _patterns(term: str) -> _TermPatterns | None:
    words = re.findall(r"[\w'+#.-]+", term)
    if not words:
        return None
    parts = []
    for word in words:
        stem = re.escape(word.lower().rstrip("s") if len(word) > 3 and word.lower().endswith("s") else word.lower())
        parts.append(rf"{stem}(?:s|es|ies|ing|ed|al|ion)?")
    t = r"\b" + r"[\s\-]+".join(parts) + r"\b"
    copula = rf"{t}{_PAREN}\s*,?\s*{_COPULA}\b"
    glossary = rf"{t}{_PAREN}\s*{_GLOSSARY_DASH}\s*\S"
    naming = rf"(?:{_NAMING})\s+{_ARTICLE}[\"'\u201c\u2018*_]?{t}"
    return _TermPatterns(
        copula=re.compile(rf"^(?:[^,.;:]{{0,60}},\s*)?\W{{0,3}}{_ARTICLE}{copula}", re.I),
        glossary=re.compile(rf"^\W{{0,3}}{_ARTICLE}{glossary}", re.I),
        naming=re.compile(naming, re.I),
        anywhere=re.compile(rf"{copula}|{glossary}|{naming}", re.I),
        stems=frozenset(tokenize([term])[0]),
    )


def definition_strength(sentence: str, term: str) -> float:
    """STRONG when the sentence has the shape of a definition of `term`, WEAK when it names the
    term and says what it is in a looser way, 0.0 otherwise."""
    p = _patterns(term)
    if p is None:
        return 0.0
    if p.glossary.match(sentence) and len(sentence) >= _MIN_GLOSSARY_CHARS:
        return STRONG  # a glossary entry may hold a formula: it is still the definition
    if not is_statement(sentence):
        return 0.0
    if p.copula.search(sentence) or p.naming.search(sentence):
        return STRONG
    if p.stems and p.stems <= set(tokenize([sentence])[0]) and re.search(rf"\b{_COPULA}\b", sentence, re.I):
        return WEAK
    return 0.0


def may_define(text: str, term: str) -> bool:
    """A cheap first look: does the passage have a definition's shape for the term anywhere?"""
    p = _patterns(term)
    return p is not None and p.anywhere.search(text) is not None


_MIN_GLOSSARY_CHARS = 20  # "LASSO: Ridge" is a table row; a definition says more
