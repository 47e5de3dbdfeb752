"""`python -m core eval sizes --data ../shared/data`: answering and refusing, class by class size.

Classes of 2, 10, 22, 40 and 60 documents (--sizes) are made from the evaluation library
(core/measure/library.py): some sections of one SQuAD article, SciFact abstracts with claims that
they answer, course PDFs, and further abstracts to fill the size; one class per article of the part
at each size. Asked through the real chat service:

- on-topic: the SQuAD questions of the sections in the class, the SciFact claims whose abstracts
  are in the class: they must be answered;
- off-topic: questions about the part's other SQuAD articles, SciFact claims none of whose abstracts
  is in the class: they must be refused (`answer.found is False`).

For the answered on-topic SQuAD questions it also reports what a student reads: the answer's first
sentence holds a gold answer, the answer holds one, the first cited passage holds one, the answer's
median length in words. Every figure per size and source. `--part dev` (the default) is what rules
are chosen on; `--part heldout` is the part kept aside (core/measure/corpora.py), to look at once.
"""
from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from core.config import Settings
from core.measure import corpora
from core.measure.eval_coverage import evaluation_services, percentiles
from core.measure.eval_squad import contains_answer
from core.measure.library import ClassLibrary
from core.text import split_sentences

SIZES = (2, 10, 22, 40, 60)
PER_SIDE = 40  # questions asked per source and side, in each class
CLAIMS = 120  # SciFact claims of the part taken into the library (with their abstracts)
_MARKER = re.compile(r"\s*\[\d+\]")


def _compose(rng: random.Random, size: int, article: str, corpus: corpora.Corpus, claims: Sequence,
             library: ClassLibrary) -> tuple[list[str], list]:
    """A class of `size` documents around `article`, and the claims it answers."""
    sections = sorted(n for n, d in corpus.documents.items() if d.group == article and n in library.ids)
    k = max(1, min(len(sections), size // 3))
    start = rng.randrange(0, len(sections) - k + 1)
    docs = sections[start:start + k]
    room = max(1, (size - k) // 2) if size > k else 0
    answered = []
    for claim in rng.sample(list(claims), len(claims)):
        new = [d for d in claim.documents if d not in docs]
        if len(docs) + len(new) - k <= room and new:
            docs += new
            answered.append(claim)
    pdfs = sorted(n for n, d in corpus.documents.items() if d.source == "course" and n in library.ids)
    docs += pdfs[:max(0, size - len(docs))]
    padding = sorted(n for n, d in corpus.documents.items()
                     if d.source == "scifact" and n in library.ids and n not in docs)
    rng.shuffle(padding)
    docs += padding[:max(0, size - len(docs))]
    return docs[:size], answered


def _sample(rng: random.Random, items: Sequence, n: int) -> list:
    return rng.sample(list(items), min(n, len(items)))


def _first_sentence(text: str) -> str:
    sentences = split_sentences(_MARKER.sub("", text))
    return sentences[0] if sentences else ""


def run_sizes(data: Path, settings: Settings, sizes: Sequence[int] = SIZES, part: str = corpora.DEV,
              per_side: int = PER_SIDE, claims: int = CLAIMS, seed: int = 0, embedder=None,
              progress: Callable[[str], None] | None = None) -> dict:
    say = progress or (lambda message: None)
    rng = random.Random(seed)
    squad = corpora.squad(Path(data) / "squad").part(part)
    every_abstract = corpora.scifact(Path(data) / "scifact", abstracts=0)
    scifact = every_abstract.part(part)
    picked = _sample(rng, scifact.questions, claims)
    # (an abstract that answers claims of both parts is filed with the dev ones: a held-out claim
    # still needs it in its class)
    needed = {n for q in picked for n in q.documents}
    padding = [d for n, d in sorted(scifact.documents.items()) if n not in needed][:max(sizes)]
    courses = corpora.course_pdfs(Path(data) / "course_pdfs").part(part)
    corpus = squad + courses + corpora.Corpus({n: every_abstract.documents[n] for n in needed}
                                              | {d.name: d for d in padding}, picked)
    rows = []
    with evaluation_services(settings, embedder=embedder) as (services, actor):
        library = ClassLibrary(services, progress=say)
        library.ingest(corpus.documents.values())
        articles = sorted({d.group for d in squad.documents.values()})
        for size in sizes:
            for article in articles:
                docs, answered_claims = _compose(rng, size, article, corpus, picked, library)
                class_id = library.make_class(f"sizes {size} {article}", docs)
                present = set(docs)
                asks = [
                    (True, _sample(rng, [q for q in squad.questions if q.documents[0] in present], per_side)),
                    (True, answered_claims[:per_side]),
                    (False, _sample(rng, [q for q in squad.questions if q.group != article], per_side)),
                    (False, _sample(rng, [q for q in picked if not set(q.documents) & present], per_side)),
                ]
                for on_topic, questions in asks:
                    for q in questions:
                        answer = services.chat.ask(actor, class_id, q.text)
                        rows.append(_row(size, len(docs), on_topic, q, answer))
                say(f"size {size}, around {article}: {len(docs)} documents asked")
    return {"data": str(data), "part": part, "embedder": settings.embedder if embedder is None else embedder.name,
            "seed": seed, "sizes": {size: _summary([r for r in rows if r["size"] == size]) for size in sizes}}


def _row(size: int, documents: int, on_topic: bool, q, answer) -> dict:  # noqa: ANN001
    row = {"size": size, "documents": documents, "on_topic": on_topic, "source": q.source,
           "answered": bool(answer.found), "latency_ms": answer.latency_ms}
    if q.answers and on_topic and answer.found:
        text = _MARKER.sub("", answer.text)
        row.update(first_sentence=contains_answer(_first_sentence(answer.text), list(q.answers)),
                   text=contains_answer(text, list(q.answers)), words=len(text.split()),
                   first_passage=bool(answer.citations) and contains_answer(answer.citations[0].text,
                                                                            list(q.answers)))
    return row


def _share(rows: list[dict], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None


def _summary(rows: list[dict]) -> dict:
    out: dict = {"documents": max((r["documents"] for r in rows), default=0),
                 "latency": percentiles([r["latency_ms"] for r in rows])}
    for source in ("squad", "scifact"):
        on = [r for r in rows if r["source"] == source and r["on_topic"]]
        off = [r for r in rows if r["source"] == source and not r["on_topic"]]
        out[source] = {"on_topic": len(on), "on_topic_answered": _share(on, "answered"),
                       "off_topic": len(off), "off_topic_answered": _share(off, "answered")}
    read = [r for r in rows if "words" in r]
    out["squad"].update({"first_sentence_holds_gold": _share(read, "first_sentence"),
                         "answer_holds_gold": _share(read, "text"),
                         "first_passage_holds_gold": _share(read, "first_passage"),
                         "median_words": statistics.median(r["words"] for r in read) if read else None})
    return out


def format_sizes(r: dict) -> str:
    lines = [f"eval sizes on {r['data']} ({r['part']} part, embedder {r['embedder']}, seed {r['seed']})",
             "size  docs  SQuAD on/off answered  SciFact on/off answered  1st sentence  answer  1st passage  "
             "median words  ask p95"]
    for size, s in r["sizes"].items():
        q, f = s["squad"], s["scifact"]
        lines.append(
            f"{size:>4}  {s['documents']:>4}  {q['on_topic_answered']} / {q['off_topic_answered']} "
            f"(n {q['on_topic']}/{q['off_topic']})  {f['on_topic_answered']} / {f['off_topic_answered']} "
            f"(n {f['on_topic']}/{f['off_topic']})  {q['first_sentence_holds_gold']}  {q['answer_holds_gold']}  "
            f"{q['first_passage_holds_gold']}  {q['median_words']}  {s['latency']['p95_ms']} ms")
    lines.append("(answered = not 'nothing found'; 1st sentence / answer / 1st passage: answered on-topic SQuAD "
                 "questions whose first sentence, whole answer, first cited passage holds a gold answer)")
    return "\n".join(lines)
