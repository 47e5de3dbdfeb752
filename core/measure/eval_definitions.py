"""`python -m core eval definitions --data DIR`: how well "What is X?" is answered.

The questions are mined from the material itself, not written by hand: every page of every
.pdf/.txt/.md file under DIR is split into sentences, and sentences with a clear definitional
shape are kept:

  "X is a/an/the …", "X is defined as …", "X refers to …"    (optionally "A/An/The X …")
  "X, or Y, is …", "X, also known as/called/noted Y, is …"   (the appositive is dropped)
  "X: …", "X – …"                                             (glossary lines, cheat-sheets)
  "… is called/known as X.", "We call this X."                (the term at the end)

where X is a short noun phrase (1–4 words, starting and ending with a content word, not a
pronoun, a variable or a label such as "Remark"). Only the terms defined in exactly one place in
the whole collection are kept, so the gold location is unambiguous: the document, the page index
and the defining sentence. Every file goes into ONE class (the other files are the unrelated
material around it) and "What is X?" is asked through the real chat service.

Scores: the first citation is the defining page (same document and page index; also "in the
top 5"); the first cited passage holds the defining sentence; the answer's first 200 characters
hold at least half of the definition's content words (the BM25 analyser: lowercase, no
stopwords, stemmed; the term's own words do not count); answered share; ask latency.
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core.config import Settings
from core.ingest.extract import clean_filename, extract
from core.ingest.formats import SUPPORTED
from core.measure.eval_coverage import evaluation_services, percentiles
from core.search.native import english_stopwords
from core.search.terms import tokenize
from core.text import split_sentences

ANSWER_PREFIX_CHARS = 200  # what a student reads first
MIN_WORD_SHARE = 0.5  # of the definition's content words, in the answer's first 200 characters
MIN_DEFINITION_TERMS = 3  # a definition with fewer content words (a formula) is not scored
MIN_DEFINITION_WORDS = 5

# Words that may not start or end a term: pronouns, determiners, conjunctions (with the BM25
# stopwords, which hold "it", "this", "there", "which" …); and the discourse labels that, alone,
# introduce a line without being defined by it ("Remark: …", "Example: …", "Input: …").
_FUNCTION = frozenset("""
    a an the it its this that these those there here which what who whom whose where when why how
    he she they them we you i one ones each every some any all both such other another many most
    so then thus hence also but and or nor if because since while although though however therefore
    in on at by for from with to of as into onto than via per
    let now first second next finally still just only very
    suppose assume consider given note recall see
""".split())
_LABELS = frozenset("""
    remark remarks note notes example examples answer answers question questions solution solutions
    proof hint hints problem problems exercise exercises summary definition definitions theorem lemma
    corollary proposition claim step steps figure fig table outline agenda recap motivation intuition
    idea ideas goal goals result results reminder reference references key important warning caution
    story input inputs output outputs source sources notation overview introduction conclusion
    conclusions today lecture slide slides chapter section part page contents case cases
""".split())
_INNER_OK = frozenset({"of", "and", "for", "in", "to"})  # "law of large numbers", "sequence to sequence"

_WORD = r"[A-Za-z][\w'’\-]*"
_TERM = rf"{_WORD}(?:\s+{_WORD}){{0,3}}"
_PAREN = r"(?:\s*\([^()]{1,40}\))?"  # "(PDF)", an acronym or alias: dropped from the term
_ALIAS = r"(?:,\s*(?:or|also\s+(?:called|known\s+as|noted|named|termed|referred\s+to\s+as)|a\.k\.a\.?|aka)\s+[^,]{1,60},)?"
_LEADING = re.compile(r"^(?:[^\w(\"'“‘]+|\(?\d{1,3}[.)]\s+|[a-z]\)\s+)+")  # bullets, glyphs, "1."

_COPULAR = re.compile(
    rf"^(?:(?:a|an|the)\s+)?(?P<term>{_TERM}){_PAREN}{_ALIAS}\s+"
    r"(?:is\s+(?P<det>(?:a|an|the)\s|defined\s+(?:as|to\s+be)\s|used\s+to\s+refer\s+to\s)|refers\s+to\s)(?P<defn>.+)$",
    re.IGNORECASE)
_GLOSSARY = re.compile(rf"^(?P<term>{_TERM}){_PAREN}\s*(?::|\s[\u2013\u2014-])\s+(?P<defn>.+)$")
_CALLED = re.compile(
    rf"^(?P<defn>.+?)\s+(?:is|are)\s+(?:called|known\s+as|referred\s+to\s+as|termed|named)\s+"
    rf"(?:(?:a|an|the)\s+)?(?P<term>{_TERM}){_PAREN}\s*[.;]?$", re.IGNORECASE)
_WE_CALL = re.compile(
    rf"^we\s+call\s+(?:this|that|it|these|those|them|such\s+\w+)\s+(?:(?:a|an|the)\s+)?(?P<term>{_TERM}){_PAREN}\s*[.;]?$",
    re.IGNORECASE)


@dataclass(frozen=True)
class Definition:
    term: str  # as written
    document: str  # the file name the class shows
    page: int | None  # 1-based page index; None for text files
    sentence: str  # the defining sentence (for "We call this X.", with the sentence before it)
    definition: str  # the part that defines: what the answer should say
    pattern: str
    copies: tuple[tuple[str, int | None], ...] = ()  # other (document, page) holding the same sentence

    @property
    def places(self) -> list[tuple[str, int | None]]:
        return [(self.document, self.page), *self.copies]

    @property
    def question(self) -> str:
        return f"What is {self.term}?"

    @property
    def key(self) -> str:
        return normalise_term(self.term)


def normalise_term(term: str) -> str:
    words = term.lower().replace("’", "'").split()
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words)


def acceptable_term(term: str) -> bool:
    """A short noun phrase worth asking about: 1–4 words, content words at both ends, not a
    pronoun, a label ("Remark") or a variable ("X", "f(x)")."""
    words = term.split()
    if not 1 <= len(words) <= 4:
        return False
    low = [w.lower().strip("'’-") for w in words]
    function = _FUNCTION | english_stopwords()
    if low[0] in function or low[-1] in function or (len(low) == 1 and low[0] in _LABELS):
        return False
    if any(w in function and w not in _INNER_OK for w in low[1:-1]):
        return False
    if not any(sum(ch.isalpha() for ch in w) >= 3 for w in low):
        return False  # "X", "f", "Xn": variables, not terms
    return True


def _strip_variables(term: str) -> str:
    """"transition matrix Q" -> "transition matrix": a trailing one-letter symbol names, not defines."""
    words = term.split()
    while len(words) > 1 and len(words[-1]) == 1:
        words.pop()
    return " ".join(words)


def _definition_terms(d: Definition) -> set[str]:
    return set(tokenize([d.definition])[0]) - set(tokenize([d.term])[0])


def match_definition(sentence: str, previous: str = "") -> tuple[str, str, str] | None:
    """(term, definition, pattern) when the sentence defines a term, else None."""
    s = _LEADING.sub("", " ".join(sentence.split()))
    if not s or s.endswith("?"):
        return None
    m = _WE_CALL.match(s)
    if m and previous:
        return m.group("term"), f"{previous} {s}", "we call"
    m = _COPULAR.match(s)
    if m:
        return m.group("term"), m.group("defn"), "is a" if m.group("det") else "refers to"
    m = _GLOSSARY.match(s)
    if m:
        return m.group("term"), m.group("defn"), "glossary"
    m = _CALLED.match(s)
    if m:
        return m.group("term"), m.group("defn"), "called"
    return None


def definitions_in_pages(document: str, pages: Iterable[tuple[int | None, str]]) -> list[Definition]:
    """Every definitional sentence of one document's pages (terms not yet checked for uniqueness)."""
    out: list[Definition] = []
    for number, text in pages:
        sentences = split_sentences(text)
        for i, sentence in enumerate(sentences):
            found = match_definition(sentence, sentences[i - 1] if i else "")
            if found is None:
                continue
            term, defn, pattern = found
            term = _strip_variables(term)
            if not acceptable_term(term) or len(defn.split()) < MIN_DEFINITION_WORDS:
                continue
            d = Definition(term, document, number, " ".join(sentence.split()), defn.strip(), pattern)
            if len(_definition_terms(d)) >= MIN_DEFINITION_TERMS:
                out.append(d)
    return out


def unique_definitions(found: Iterable[Definition]) -> list[Definition]:
    """The definitions of the terms defined once in the collection: by one sentence, found in one
    place, or copied word for word into others (a compilation repeating a cheat-sheet), in which
    case each copy's page is a right answer too. A term defined by two different sentences (two
    meanings, or a definition and a restatement) has no single gold place and is dropped."""
    by_term: dict[str, dict[str, list[Definition]]] = {}
    for d in found:
        by_term.setdefault(d.key, {}).setdefault(_squash(d.sentence), []).append(d)
    out = []
    for sentences in by_term.values():
        if len(sentences) != 1:
            continue
        first, *rest = next(iter(sentences.values()))
        here = (first.document, first.page)
        copies = tuple(dict.fromkeys((d.document, d.page) for d in rest if (d.document, d.page) != here))
        out.append(replace(first, copies=copies))
    return out


def collection_files(directory: Path, extensions: Iterable[str] | None = None) -> list[Path]:
    """The course material under directory: its PDFs when it has any (text files beside PDFs are
    usually notes about them: sources, licences), else its .txt/.md files; or the given extensions."""
    files = sorted(p for p in Path(directory).rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
    if extensions is not None:
        wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    else:
        wanted = {".pdf"} if any(p.suffix.lower() == ".pdf" for p in files) else set(SUPPORTED)
    return [p for p in files if p.suffix.lower() in wanted]


def mine_definitions(files: Iterable[Path]) -> tuple[list[Definition], dict]:
    """(the unique-term definitions of the files, counts); unreadable files are skipped and counted."""
    found: list[Definition] = []
    skipped = []
    for path in files:
        try:
            doc = extract(path.name, path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not fatal
            skipped.append(f"{path.name}: {exc}")
            continue
        found.extend(definitions_in_pages(clean_filename(path.name), ((p.number, p.text) for p in doc.pages)))
    unique = unique_definitions(found)
    return unique, {"definitional_sentences": len(found), "distinct_terms": len({d.key for d in found}),
                    "unique_terms": len(unique), "unreadable_files": skipped}


def words_covered(definition: Definition, answer_text: str) -> float:
    """Share of the definition's content words in the answer's first 200 characters."""
    wanted = _definition_terms(definition)
    if not wanted:
        return 0.0
    have = set(tokenize([answer_text[:ANSWER_PREFIX_CHARS]])[0])
    return len(wanted & have) / len(wanted)


def _same_place(citation, d: Definition) -> bool:
    return (citation.document, citation.page) in d.places


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def score_answer(d: Definition, answer) -> dict:
    """One question's scores (booleans) from the Answer the chat service returned."""
    cites = list(answer.citations) if answer.found else []
    return {
        "answered": bool(answer.found),
        "first_on_page": bool(cites) and _same_place(cites[0], d),
        "top5_on_page": any(_same_place(c, d) for c in cites[:5]),
        "first_holds_sentence": bool(cites) and _squash(d.sentence) in _squash(cites[0].text),
        "words_in_answer": bool(answer.found) and words_covered(d, answer.text) >= MIN_WORD_SHARE,
    }


def run_definitions(directory: Path, settings: Settings, limit: int | None = None, seed: int = 0,
                    embedder=None, progress: Callable[[str], None] | None = None,
                    extensions: Iterable[str] | None = None) -> dict:
    say = progress or (lambda message: None)
    files = collection_files(directory, extensions)
    if not files:
        raise FileNotFoundError(f"no .pdf, .txt or .md files under {directory}")
    definitions, counts = mine_definitions(files)
    definitions.sort(key=lambda d: (d.document, d.page or 0, d.key))
    mined = len(definitions)
    if limit and limit < mined:
        definitions = sorted(random.Random(seed).sample(definitions, limit),
                             key=lambda d: (d.document, d.page or 0, d.key))
    say(f"mined {mined} unique-term definitions from {len(files)} files; asking {len(definitions)}")

    with evaluation_services(settings, embedder=embedder) as (services, actor):
        klass = services.classes.create(actor, "Definitions evaluation")
        started = time.perf_counter()
        chunks, failed = 0, []
        for path in files:
            result = services.ingestion.wait_for(
                services.ingestion.submit(actor, klass.id, path.name, path.read_bytes()))
            if result.ok:
                chunks += result.chunks
            else:
                failed.append(f"{path.name}: {result.error}")
        ingest_s = time.perf_counter() - started
        say(f"ingested {len(files) - len(failed)} files, {chunks} chunks in {ingest_s:.1f} s")
        if definitions:  # the first ask builds the class index: not a student's usual wait
            services.chat.ask(actor, klass.id, "warm-up question")

        rows, latencies = [], []
        for i, d in enumerate(definitions, 1):
            t = time.perf_counter()
            answer = services.chat.ask(actor, klass.id, d.question)
            latencies.append(1000 * (time.perf_counter() - t))
            row = {**asdict(d), "question": d.question, **score_answer(d, answer),
                   "answer": answer.text, "cited": [f"{c.document} p{c.page}" for c in answer.citations[:5]]}
            rows.append(row)
            if i % 50 == 0:
                say(f"asked {i}/{len(definitions)}")

    n = len(rows)
    share = (lambda key: round(sum(r[key] for r in rows) / n, 4) if n else None)
    by_pattern: dict[str, int] = {}
    for d in definitions:
        by_pattern[d.pattern] = by_pattern.get(d.pattern, 0) + 1
    return {
        "dataset": str(directory),
        "embedder": settings.embedder if embedder is None else embedder.name,
        "files": len(files),
        "ingest_failed": failed,
        "chunks": chunks,
        "ingest_seconds": round(ingest_s, 2),
        "mining": {**counts, "by_pattern": by_pattern},
        "mined_questions": mined,
        "questions": n,
        "seed": seed,
        "first_citation_on_defining_page": share("first_on_page"),
        "defining_page_in_top5": share("top5_on_page"),
        "first_citation_holds_sentence": share("first_holds_sentence"),
        "answer_holds_half_the_definition": share("words_in_answer"),
        "answered": share("answered"),
        "latency": percentiles(latencies),
        "rows": rows,
    }
