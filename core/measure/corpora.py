"""The public evaluation data as classes' documents and questions, with the part held out.

Three sources from `../shared/data` (by path, never copied): SQuAD (each article cut into
sections of SECTION_PARAGRAPHS paragraphs, one document each, its questions tied to their
paragraph's section), SciFact (each abstract a document, each claim a question tied to its
relevant abstracts) and the course PDFs (each file a document). Every evaluation that chooses a
rule or a threshold uses the `dev` part only; the `heldout` part is looked at once, at the end, to
say whether the rule generalises:

- SQuAD: the article HELDOUT_ARTICLE, whole (its sections and its questions);
- SciFact: the claims whose id hashes to 0 mod 4, and their abstracts;
- course PDFs: the quarter of the files (rounded up) whose names hash lowest.

The split is by hash of a stable id, so nobody can move an item across it by accident.
"""
from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DEV, HELDOUT = "dev", "heldout"
HELDOUT_ARTICLE = "Steam_engine"
SECTION_PARAGRAPHS = 4


@dataclass(frozen=True)
class EvalDocument:
    name: str  # the file name the class shows
    source: str  # squad | scifact | course
    group: str  # what counts as the same material: a SQuAD article, "scifact", a course folder
    part: str  # dev | heldout
    path: Path | None = None  # a file read as it is (course PDFs)
    text: str = ""  # or the text to upload as a .txt file

    def data(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else self.text.encode("utf-8")


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    text: str
    source: str
    group: str
    part: str
    documents: tuple[str, ...]  # the documents that answer it
    answers: tuple[str, ...] = ()  # gold answer strings (SQuAD)


@dataclass
class Corpus:
    documents: dict[str, EvalDocument] = field(default_factory=dict)
    questions: list[EvalQuestion] = field(default_factory=list)

    def part(self, part: str) -> "Corpus":
        return Corpus({n: d for n, d in self.documents.items() if d.part == part},
                      [q for q in self.questions if q.part == part])

    def of(self, source: str) -> "Corpus":
        return Corpus({n: d for n, d in self.documents.items() if d.source == source},
                      [q for q in self.questions if q.source == source])

    def __add__(self, other: "Corpus") -> "Corpus":
        return Corpus({**self.documents, **other.documents}, self.questions + other.questions)


def _hash(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16)


def held_out(key: str) -> bool:
    return _hash(key) % 4 == 0


def squad(directory: Path) -> Corpus:
    """Each article's paragraphs, SECTION_PARAGRAPHS at a time, as one text document each."""
    data = json.loads((Path(directory) / "dev-v1.1.subset.json").read_text(encoding="utf-8"))
    corpus = Corpus()
    for article in data["data"]:
        title, part = article["title"], HELDOUT if article["title"] == HELDOUT_ARTICLE else DEV
        paragraphs = article["paragraphs"]
        for start in range(0, len(paragraphs), SECTION_PARAGRAPHS):
            name = f"{title}-{start // SECTION_PARAGRAPHS + 1:02d}.txt"
            section = paragraphs[start:start + SECTION_PARAGRAPHS]
            corpus.documents[name] = EvalDocument(name, "squad", title, part,
                                                  text="\n\n".join(p["context"].strip() for p in section))
            for p in section:
                for qa in p["qas"]:
                    answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    corpus.questions.append(EvalQuestion(qa["id"], qa["question"].strip(), "squad", title, part,
                                                         (name,), answers))
    return corpus


def scifact(directory: Path, abstracts: int | None = None) -> Corpus:
    """The claims with relevant abstracts (qrels/train.tsv) as questions, their abstracts as
    documents; plus, up to `abstracts` in all, other abstracts in corpus order (padding)."""
    directory = Path(directory)
    with open(directory / "qrels" / "train.tsv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")]
    relevant: dict[str, list[str]] = {}
    for r in rows:
        relevant.setdefault(r["query-id"], []).append(r["corpus-id"])
    claims = {q["_id"]: q["text"] for q in _jsonl(directory / "queries.jsonl") if q["_id"] in relevant}
    claim_part = {cid: HELDOUT if held_out(f"scifact-claim-{cid}") else DEV for cid in claims}
    needed: dict[str, str] = {}
    for cid in claims:  # an abstract that answers claims of both parts is filed with the dev ones
        for doc in relevant[cid]:
            needed[doc] = DEV if needed.get(doc) == DEV else claim_part[cid]
    corpus = Corpus()
    for doc in _jsonl(directory / "corpus.jsonl"):
        doc_id = doc["_id"]
        if doc_id not in needed and abstracts is not None and len(corpus.documents) >= abstracts:
            continue
        name = f"scifact-{doc_id}.txt"
        part = needed.get(doc_id, HELDOUT if held_out(f"scifact-doc-{doc_id}") else DEV)
        corpus.documents[name] = EvalDocument(name, "scifact", "scifact", part,
                                              text=f"{doc['title'].strip()}\n\n{doc['text'].strip()}")
    for cid, text in claims.items():
        corpus.questions.append(EvalQuestion(f"scifact-{cid}", text, "scifact", "scifact", claim_part[cid],
                                             tuple(f"scifact-{d}.txt" for d in relevant[cid])))
    return corpus


def course_pdfs(directory: Path) -> Corpus:
    """Every PDF under directory as a document of its folder (one course or set of cheat-sheets)."""
    paths = sorted(Path(directory).rglob("*.pdf"))
    by_hash = sorted(paths, key=lambda p: _hash(f"course-{p.name}"))
    kept_aside = {p.name for p in by_hash[:-(-len(paths) // 4)]}
    corpus = Corpus()
    for path in paths:
        part = HELDOUT if path.name in kept_aside else DEV
        corpus.documents[path.name] = EvalDocument(path.name, "course", path.parent.name, part, path=path)
    return corpus


def _jsonl(path: Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
