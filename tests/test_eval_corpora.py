"""The evaluation data as documents and questions, with a part kept aside, and classes of any make-up
made from documents ingested once (core/measure/corpora.py, core/measure/library.py)."""
from __future__ import annotations

import json

from core.measure import corpora
from core.measure.library import ClassLibrary
from core.services.actors import SYSTEM
from tests.factories import make_pdf


def _squad(folder, titles=("Oxygen", corpora.HELDOUT_ARTICLE)):
    data = {"version": "1.1", "data": [
        {"title": t, "paragraphs": [
            {"context": f"{t} fact {i}: the value of {t.lower()} number {i} is {i * 7}.",
             "qas": [{"id": f"{t}-{i}", "question": f"What is the value of {t.lower()} number {i}?",
                      "answers": [{"text": str(i * 7), "answer_start": 0}]}]} for i in range(6)]} for t in titles]}
    (folder / "dev-v1.1.subset.json").write_text(json.dumps(data))
    return folder


def test_squad_sections_tie_each_question_to_its_paragraph_and_hold_one_article_out(tmp_path):
    corpus = corpora.squad(_squad(tmp_path))
    assert sorted(corpus.documents) == ["Oxygen-01.txt", "Oxygen-02.txt", "Steam_engine-01.txt", "Steam_engine-02.txt"]
    section = corpus.documents["Oxygen-02.txt"]  # paragraphs 4 and 5
    assert section.part == corpora.DEV and "oxygen number 4 is 28" in section.text
    q = next(q for q in corpus.questions if q.id == "Oxygen-4")
    assert q.documents == ("Oxygen-02.txt",) and q.answers == ("28",)
    held = corpus.part(corpora.HELDOUT)
    assert {d.group for d in held.documents.values()} == {q.group for q in held.questions} == {"Steam_engine"}


def test_scifact_claims_and_their_abstracts_fall_on_one_side(tmp_path):
    (tmp_path / "qrels").mkdir()
    claims = range(40)
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps({"_id": str(c), "text": f"Claim {c}."})
                                                      for c in claims))
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": str(100 + d), "title": f"T{d}",
                                                                 "text": f"Abstract {d}."}) for d in range(60)))
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                  "".join(f"{c}\t{100 + c}\t1\n" for c in claims))
    corpus = corpora.scifact(tmp_path, abstracts=45)
    assert len(corpus.questions) == 40 and len(corpus.documents) == 45  # 40 relevant + 5 padding
    for q in corpus.questions:
        assert all(corpus.documents[d].part == q.part for d in q.documents)
    parts = {q.part for q in corpus.questions}
    assert parts == {corpora.DEV, corpora.HELDOUT}
    assert corpora.scifact(tmp_path, abstracts=45).questions == corpus.questions  # the split is stable


def test_a_class_made_from_the_library_answers_from_its_documents_only(services, tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    for name, page in (("cells.pdf", "Mitochondria produce ATP, the energy currency of the cell."),
                       ("plants.pdf", "Chloroplasts capture light energy in photosynthesis.")):
        (folder / name).write_bytes(make_pdf([page]))
    corpus = corpora.course_pdfs(folder) + corpora.squad(_squad(tmp_path))
    assert len(corpus.part(corpora.HELDOUT).documents) >= 1 + 2  # a quarter of the PDFs, and the held-out article
    library = ClassLibrary(services)
    library.ingest(corpus.documents.values())
    assert library.failed == {} and set(library.ids) == set(corpus.documents)
    class_id = library.make_class("cells only", ["cells.pdf", "Oxygen-01.txt"])
    listed = {d.filename: d for d in services.documents.list(SYSTEM, class_id)}
    assert set(listed) == {"cells.pdf", "Oxygen-01.txt"} and listed["cells.pdf"].page_count == 1
    answer = services.chat.ask(SYSTEM, class_id, "What do mitochondria produce?")
    assert answer.found and answer.citations[0].document == "cells.pdf"
    assert all(c.document != "plants.pdf" for c in answer.citations)
    assert ClassLibrary(services).ids == library.ids  # a second run finds what the first ingested


def test_eval_sizes_asks_on_and_off_topic_questions_at_each_size(tmp_path, settings):
    from core.measure.eval_sizes import format_sizes, run_sizes
    from core.search.embeddings import FakeEmbedder

    (tmp_path / "squad").mkdir()
    _squad(tmp_path / "squad", titles=("Oxygen", "Prime_number", corpora.HELDOUT_ARTICLE))
    scifact = tmp_path / "scifact"
    (scifact / "qrels").mkdir(parents=True)
    (scifact / "queries.jsonl").write_text("\n".join(json.dumps({"_id": str(c), "text": f"Gene {c} drives growth."})
                                                     for c in range(12)))
    (scifact / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": str(100 + d), "title": f"Gene {d}",
                                                                "text": f"Gene {d} drives growth in mice."})
                                                    for d in range(20)))
    (scifact / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                 "".join(f"{c}\t{100 + c}\t1\n" for c in range(12)))
    (tmp_path / "course_pdfs").mkdir()
    (tmp_path / "course_pdfs" / "cells.pdf").write_bytes(make_pdf(["Mitochondria produce ATP in the cell."]))
    result = run_sizes(tmp_path, settings, sizes=(2, 4), per_side=5, claims=8, embedder=FakeEmbedder())
    assert set(result["sizes"]) == {2, 4} and result["part"] == corpora.DEV
    for size, s in result["sizes"].items():
        assert s["documents"] == size
        assert s["squad"]["on_topic"] > 0 and s["squad"]["off_topic"] > 0  # Oxygen around, Prime_number asked
        assert s["scifact"]["off_topic"] > 0
    assert "size  docs" in format_sizes(result)
