"""What kind of question a student asked: a definition ("What is X?"), a comparison ("X vs Y?"),
a follow-up that leans on the previous turn ("and tuples?"), or anything else.

English question forms only: other languages fall through to the general answer, which still
works, just without the definitions-first ordering.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# "What is X", "What's an X", "what are Xs", "what does X mean", "define X", "meaning of X" ...
_ARTICLE = r"(?:(?:a|an|the)\s+)?"
_DEFINITION_FORMS = [  # the more specific forms first
    re.compile(rf"^what\s+is\s+(?:meant\s+by|the\s+(?:meaning|definition)\s+of)\s+{_ARTICLE}(?P<x>.+?)$", re.I),
    re.compile(rf"^(?:so\s+|and\s+|but\s+)?what(?:'s|\u2019s|\s+is|\s+are|\s+was|\s+were)\s+{_ARTICLE}(?P<x>.+?)$", re.I),
    re.compile(rf"^what\s+(?:does|do|did)\s+{_ARTICLE}(?P<x>.+?)\s+(?:mean|stand\s+for|refer\s+to|do)$", re.I),
    re.compile(rf"^(?:please\s+)?(?:define|explain|describe)\s+{_ARTICLE}(?P<x>.+?)$", re.I),
    re.compile(rf"^(?:the\s+)?(?:definition|meaning)\s+of\s+{_ARTICLE}(?P<x>.+?)$", re.I),
    re.compile(rf"^what\s+do\s+(?:you|we|they)\s+mean\s+by\s+{_ARTICLE}(?P<x>.+?)$", re.I),
]
# "difference between X and Y", "X vs Y", "X versus Y", "compare X and Y", "how does X differ from Y"
_COMPARISON_FORMS = [
    re.compile(rf"differen(?:ce|ces|t)\s+between\s+{_ARTICLE}(?P<x>.+?)\s+and\s+{_ARTICLE}(?P<y>.+?)$", re.I),
    re.compile(rf"^(?:what\s+about\s+)?{_ARTICLE}(?P<x>.+?)\s+(?:vs\.?|versus)\s+{_ARTICLE}(?P<y>.+?)$", re.I),
    re.compile(rf"^(?:compare|contrast)\s+{_ARTICLE}(?P<x>.+?)\s+(?:and|with|to)\s+{_ARTICLE}(?P<y>.+?)$", re.I),
    re.compile(rf"how\s+(?:does|do|is|are)\s+{_ARTICLE}(?P<x>.+?)\s+(?:differ|different)\s+from\s+{_ARTICLE}(?P<y>.+?)$", re.I),
]
# A term is a short noun phrase, not a clause: "What is the time complexity of X" is about
# "time complexity of X" and still a term; "What is it used for" is not.
_MAX_TERM_WORDS = 6
_NOT_TERMS = frozenset("""it this that these those they them there here which who what he she we you i
the a an one something anything everything nothing""".split())
_CLAUSE_WORDS = re.compile(r"\b(?:used|called|made|done|happens?|means?|for|if|when|why|how|should|would|can|could)\b\s*$", re.I)

# A follow-up leans on the previous turn: it opens with a connective, or points back with a
# pronoun, or is too short to stand alone ("and tuples?", "why?", "what about in Java?").
_FOLLOW_UP_OPENERS = re.compile(
    r"^(?:and|but|also|so|then|or|what\s+about|how\s+about|same\s+for|and\s+what\s+about|why(?:\s+not)?\??$|"
    r"how\s+so|in\s+what\s+way|for\s+example|such\s+as|like\s+what|more\s+on|tell\s+me\s+more|"
    r"can\s+you\s+(?:explain|elaborate)\s+(?:it|that|this|more)|explain\s+(?:it|that|this|more))\b", re.I)
_POINTING_BACK = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|he|she|the\s+former|the\s+latter)\b", re.I)
_SHORT_QUESTION_WORDS = 3


@dataclass(frozen=True)
class QuestionForm:
    terms: tuple[str, ...] = ()  # the term(s) asked to define or compare, as typed
    comparison: bool = False

    @property
    def asks_definition(self) -> bool:
        return bool(self.terms)


def question_form(question: str) -> QuestionForm:
    """The term(s) a definition or comparison question asks about; empty for other questions."""
    q = _strip(question)
    for form in _COMPARISON_FORMS:
        m = form.search(q)
        if m:
            x, y = _term(m.group("x")), _term(m.group("y"))
            if x and y:
                return QuestionForm((x, y), comparison=True)
    for form in _DEFINITION_FORMS:
        m = form.match(q)
        if m:
            x = _term(m.group("x"))
            if x:
                return QuestionForm((x,))
    return QuestionForm()


def is_follow_up(question: str) -> bool:
    """True when the question cannot stand alone and needs the previous turn's subject."""
    q = _strip(question)
    words = q.split()
    if not words:
        return False
    if _FOLLOW_UP_OPENERS.match(q) or len(words) <= _SHORT_QUESTION_WORDS and not question_form(q).comparison:
        return not _stands_alone_definition(q)
    return bool(_POINTING_BACK.search(q)) and len(words) <= 8


def _stands_alone_definition(q: str) -> bool:
    """ "What is recursion?" is short but complete; "what about it?" is not."""
    form = question_form(q)
    return form.asks_definition and not any(_POINTING_BACK.fullmatch(t) for t in form.terms)


def _strip(question: str) -> str:
    return " ".join(question.split()).strip().rstrip("?.!").strip()


def _term(raw: str) -> str | None:
    term = re.sub(r"^(?:a|an|the)\s+", "", raw.strip(" \"'\u201c\u201d\u2018\u2019`*_,;:"), flags=re.I)
    term = re.sub(r"\s+(?:in\s+(?:this|the)\s+(?:course|class|lecture|book|material|context)|exactly|again)$", "",
                  term, flags=re.I).strip()
    words = term.split()
    if not words or len(words) > _MAX_TERM_WORDS or term.lower() in _NOT_TERMS or words[0].lower() in _NOT_TERMS:
        return None
    if _CLAUSE_WORDS.search(term):
        return None
    return term
