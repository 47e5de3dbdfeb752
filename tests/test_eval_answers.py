"""Issue 10's evaluations (coverage, definitions, bench ask): their metrics on tiny fixtures made here.

The chat service is stubbed where a test checks the arithmetic (so the answer logic, which is being
tuned, cannot change what is checked), and run for real with the fake embedder end to end.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.answers.model import Answer, Citation
from core.config import Settings
from core.measure.bench_ask import bench_ask, corpus_files
from core.measure.eval_coverage import balanced_sample, fold_splits, percentiles, run_coverage
from core.measure.eval_definitions import (Definition, acceptable_term, collection_files, definitions_in_pages,
                                           match_definition, score_answer, unique_definitions, words_covered,
                                           run_definitions)
from core.services.chat import ChatService
from tests.factories import make_pdf


@pytest.fixture
def eval_settings(tmp_path) -> Settings:
    return Settings(app_env="test", data_dir=tmp_path / "data", database_url="", embedder="fake",
                    auth_cookie_key="x" * 40)


# ---- definition mining -------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, term", [
    ("A stack is a collection of items where the last item added is the first removed.", "stack"),
    ("The heap is an area of memory used for dynamic allocation.", "heap"),
    ("Recursion refers to a function that calls itself on smaller inputs.", "Recursion"),
    ("Entropy is defined as the expected surprise of a random variable.", "Entropy"),
    ("Ozone, or trioxygen, is a molecule made of three oxygen atoms.", "Ozone"),
    ("The receiver operating curve (ROC), also known as the ROC curve, is a plot of rates.",
     "receiver operating curve"),
    ("• Queue – a structure where the first item added is the first item removed.", "Queue"),
    ("Gradient descent: an iterative method that follows the negative gradient downhill.", "Gradient descent"),
    ("A natural number with exactly two divisors is called a prime number.", "prime number"),
])
def test_definitional_sentences_are_mined(sentence, term):
    found = match_definition(sentence)
    assert found is not None and found[0] == term
    assert acceptable_term(term)


@pytest.mark.parametrize("sentence", [
    "It is a data structure where the last item added is the first removed.",
    "This is a structure where the first item added is the first item removed.",
    "There is a simple method for counting the number of inversions in a list.",
    "Which is the fastest sorting algorithm for nearly sorted lists?",
    "X is the number of successes in n independent trials of the experiment.",
    "Remark: the update rule is a particular case of gradient ascent on the likelihood.",
    "The students in this room are a diverse group of people from many places.",
])
def test_non_definitions_are_not_mined(sentence):
    found = match_definition(sentence)
    assert found is None or not acceptable_term(found[0])
    assert definitions_in_pages("notes.txt", [(None, sentence)]) == []


def test_we_call_takes_the_sentence_before_as_the_definition():
    text = "Pick the locally best option at every step without looking back. We call this the greedy choice."
    [d] = definitions_in_pages("algo.pdf", [(3, text)])
    assert (d.term, d.page, d.pattern) == ("greedy choice", 3, "we call")
    assert "locally best option" in d.definition and d.question == "What is greedy choice?"


def test_only_terms_defined_once_are_kept():
    page1 = ("A stack is a collection where the last item added is the first removed. "
             "A queue is a collection where the first item added is the first removed.")
    page2 = "A queue is a line of people waiting for service at a counter."
    found = definitions_in_pages("a.pdf", [(1, page1), (2, page2)])
    # a verbatim copy of the stack's definition elsewhere (a compilation): one definition, two right pages
    found += definitions_in_pages("b.pdf", [(7, "A stack is a collection where the last item added is the first removed.")])
    unique = unique_definitions(found)
    assert [d.key for d in unique] == ["stack"]  # "queue" has two different definitions: no single gold
    assert unique[0].places == [("a.pdf", 1), ("b.pdf", 7)]


def test_words_covered_uses_content_words_of_the_definition_only():
    d = Definition("stack", "a.pdf", 1, "A stack is a pile of plates, last in first out.",
                   "pile of plates, last in first out.", "is a")
    # content words: pile, plate, last, first, out (stopwords "of", "in" dropped; "stack" is the term)
    assert words_covered(d, "A stack is a pile of plates [1]") == pytest.approx(0.4)
    assert words_covered(d, "Stacks hold plates.") == pytest.approx(0.2)  # stemmed: plates = plate
    assert words_covered(d, "x" * 200 + " pile plates last first") == 0.0  # beyond the first 200 characters


def _cite(n, document, page, text="text"):
    return Citation(n, 1, document, page, text, 0.5)


def test_score_answer_counts_page_sentence_words_and_refusals():
    d = Definition("stack", "a.pdf", 2, "A stack is a pile of plates, last in first out.",
                   "pile of plates, last in first out.", "is a", copies=(("b.pdf", 9),))
    good = Answer("A stack is a pile of plates, last in first out. [1]",
                  [_cite(1, "a.pdf", 2, "Intro. A stack is a pile of plates, last in first out. More.")])
    assert score_answer(d, good) == {"answered": True, "first_on_page": True, "top5_on_page": True,
                                     "first_holds_sentence": True, "words_in_answer": True}
    second = Answer("Something else [1] [2]", [_cite(1, "a.pdf", 3), _cite(2, "b.pdf", 9)])
    s = score_answer(d, second)
    assert (s["first_on_page"], s["top5_on_page"], s["words_in_answer"]) == (False, True, False)
    # a refusal is not an answer, whatever passages it shows as related
    refused = Answer("I couldn't find anything about that.", [_cite(1, "a.pdf", 2)], found=False,
                     related=[_cite(1, "a.pdf", 2)])
    assert score_answer(d, refused) == {"answered": False, "first_on_page": False, "top5_on_page": False,
                                        "first_holds_sentence": False, "words_in_answer": False}


def test_collection_files_prefers_pdfs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deck.pdf").write_bytes(make_pdf(["x"]))
    (tmp_path / "SOURCE.txt").write_text("where these came from")
    (tmp_path / "data.json").write_text("{}")
    assert [p.name for p in collection_files(tmp_path)] == ["deck.pdf"]
    assert [p.name for p in collection_files(tmp_path, ["pdf", "txt"])] == ["SOURCE.txt", "deck.pdf"]
    (tmp_path / "sub" / "deck.pdf").unlink()
    assert [p.name for p in collection_files(tmp_path)] == ["SOURCE.txt"]


@pytest.fixture
def course(tmp_path) -> Path:
    d = tmp_path / "course"
    d.mkdir()
    (d / "structures.pdf").write_bytes(make_pdf([
        "Course overview. We meet twice a week and the exam is in June.",
        "A stack is a collection of plates where the last plate added is the first plate removed. "
        "Stacks support push and pop in constant time.",
    ]))
    (d / "cooking.pdf").write_bytes(make_pdf([
        "Braising is a cooking method that browns meat then simmers it slowly in liquid.",
    ]))
    return d


def test_run_definitions_metrics_with_a_stubbed_chat(course, eval_settings, monkeypatch):
    def ask(self, actor, class_id, question):
        if "stack" in question.lower():  # right page, and the definition's words
            return Answer("A stack is a collection of plates where the last plate added is the first removed. [1]",
                          [_cite(1, "structures.pdf", 2)])
        return Answer("I couldn't find anything about that.", [], found=False)

    monkeypatch.setattr(ChatService, "ask", ask)
    r = run_definitions(course, eval_settings)
    assert r["mined_questions"] == r["questions"] == 2  # stack, braising
    assert r["files"] == 2 and r["chunks"] >= 2 and not r["ingest_failed"]
    assert r["first_citation_on_defining_page"] == 0.5 and r["defining_page_in_top5"] == 0.5
    assert r["answer_holds_half_the_definition"] == 0.5 and r["answered"] == 0.5
    assert r["latency"]["n"] == 2
    stack = next(row for row in r["rows"] if row["term"] == "stack")
    assert (stack["document"], stack["page"], stack["question"]) == ("structures.pdf", 2, "What is stack?")
    json.dumps(r)
    one = run_definitions(course, eval_settings, limit=1, seed=3)
    assert one["mined_questions"] == 2 and one["questions"] == 1


def test_run_definitions_end_to_end_with_the_fake_embedder(course, eval_settings):
    r = run_definitions(course, eval_settings)
    assert r["questions"] == 2
    for key in ("first_citation_on_defining_page", "defining_page_in_top5", "answer_holds_half_the_definition",
                "answered"):
        assert 0.0 <= r[key] <= 1.0
    assert r["defining_page_in_top5"] >= r["first_citation_on_defining_page"]


# ---- coverage ----------------------------------------------------------------------------------

def test_fold_splits_rotate_every_article_in_and_out():
    arts = ["d", "b", "a", "c"]
    assert fold_splits(arts, 2) == [(["a", "b"], ["c", "d"]), (["c", "d"], ["a", "b"])]
    four = fold_splits(arts, 4)
    assert [inside for inside, _ in four] == [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"]]
    for a in arts:  # each article in the class as often as outside it
        assert sum(a in inside for inside, _ in four) == sum(a in out for _, out in four) == 2
    for inside, out in four:
        assert not set(inside) & set(out) and set(inside) | set(out) == set(arts)
    with pytest.raises(ValueError):
        fold_splits(["only"], 1)
    with pytest.raises(ValueError):
        fold_splits(arts, 5)


def test_balanced_sample_takes_articles_in_turn():
    qs = [{"article": "a", "id": i} for i in range(10)] + [{"article": "b", "id": i} for i in range(3)]
    four = balanced_sample(qs, ["a", "b"], 4)
    assert sorted(q["article"] for q in four) == ["a", "a", "b", "b"]
    assert len(balanced_sample(qs, ["a", "b"], 8)) == 8  # b runs out; a fills the rest
    assert len(balanced_sample(qs, ["a", "b"], None)) == 13
    assert balanced_sample(qs, ["a", "b"], 4, seed=1) == balanced_sample(qs, ["a", "b"], 4, seed=1)


def test_percentiles():
    p = percentiles([10, 20, 30, 40, 1000])
    assert (p["n"], p["p50_ms"], p["max_ms"]) == (5, 30.0, 1000.0)
    assert percentiles([])["p50_ms"] is None


ARTICLES = {
    "Photosynthesis": ("Photosynthesis is the process plants use to turn sunlight into chemical energy. "
                       "Chlorophyll is the green pigment that absorbs light in the chloroplasts."),
    "Volcano": ("A volcano is a rupture in the crust where lava and ash escape. "
                "Magma chambers lie beneath volcanoes and feed their eruptions."),
}
QUESTIONS = [
    {"article": "Photosynthesis", "question": "Which pigment absorbs light in chloroplasts?", "answers": ["Chlorophyll"]},
    {"article": "Photosynthesis", "question": "What do plants turn sunlight into?", "answers": ["chemical energy"]},
    {"article": "Volcano", "question": "What lies beneath volcanoes?", "answers": ["Magma chambers"]},
    {"article": "Volcano", "question": "What escapes from a volcano?", "answers": ["lava and ash"]},
]


@pytest.fixture
def squad_dir(tmp_path) -> Path:
    d = tmp_path / "squad"
    (d / "source_texts").mkdir(parents=True)
    for name, text in ARTICLES.items():
        (d / "source_texts" / f"{name}.txt").write_text(text)
    (d / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return d


def test_run_coverage_metrics_with_a_stubbed_chat(squad_dir, eval_settings, monkeypatch):
    """Answer everything except 'beneath': fold 1 (Photosynthesis in) answers both off-topic volcano
    questions but one; fold 2 (Volcano in) refuses its own 'beneath' question."""
    def ask(self, actor, class_id, question):
        if "beneath" in question:
            return Answer("I couldn't find anything about that.", [], found=False,
                          related=[_cite(1, "Volcano.txt", None, "Magma chambers lie beneath volcanoes")])
        return Answer("Chlorophyll. [1]", [_cite(1, "x.txt", None, "Chlorophyll is the green pigment")])

    monkeypatch.setattr(ChatService, "ask", ask)
    r = run_coverage(squad_dir, eval_settings, folds=2, limit=None)
    f1, f2 = r["folds"]
    assert (f1["in_class"], f1["out_of_class"]) == (["Photosynthesis"], ["Volcano"])
    assert (f1["on_topic_answered"], f1["off_topic_answered"], f1["on_topic_recall@5"]) == (1.0, 0.5, 0.5)
    assert (f2["on_topic_answered"], f2["off_topic_answered"], f2["on_topic_recall@5"]) == (0.5, 1.0, 0.0)
    o = r["overall"]
    assert (o["on_topic_questions"], o["off_topic_questions"]) == (4, 4)
    assert (o["on_topic_answered"], o["off_topic_answered"], o["on_topic_recall@5"]) == (0.75, 0.75, 0.25)
    assert o["meets_target"] is False and o["latency"]["n"] == 8
    json.dumps(r)


def test_run_coverage_end_to_end_with_the_fake_embedder(squad_dir, eval_settings):
    r = run_coverage(squad_dir, eval_settings, folds=2, limit=1)
    assert [f["on_topic_questions"] for f in r["folds"]] == [1, 1]
    assert all(f["chunks"] >= 1 for f in r["folds"])
    o = r["overall"]
    assert 0.0 <= o["off_topic_answered"] <= 1.0 and 0.0 <= o["on_topic_recall@5"] <= o["on_topic_answered"]


# ---- bench ask ---------------------------------------------------------------------------------

@pytest.fixture
def beir_dir(tmp_path) -> Path:
    d = tmp_path / "beir"
    d.mkdir()
    docs = [{"_id": str(i), "title": f"Study {i}", "text": f"Finding {i}: protein {i} binds receptor {i % 3} in mice."}
            for i in range(6)]
    (d / "corpus.jsonl").write_text("\n".join(json.dumps(x) for x in docs) + "\n")
    (d / "queries.jsonl").write_text("\n".join(json.dumps({"_id": str(i), "text": f"protein {i} binds receptor"})
                                               for i in range(4)) + "\n")
    return d


def test_corpus_files_repeat_the_corpus_without_duplicates():
    docs = [("T1", "a."), ("T2", "b."), ("T3", "c.")]
    files = corpus_files(docs, group=2)
    first = [next(files) for _ in range(4)]
    assert [name for name, _ in first] == ["corpus-01-0001.txt", "corpus-01-0002.txt",
                                           "corpus-02-0001.txt", "corpus-02-0002.txt"]
    assert first[0][1] == b"T1\na.\n\nT2\nb." and first[2][1].startswith(b"Copy 2\n\nT1")
    assert len({data for _, data in first}) == 4


def test_bench_ask_builds_then_reuses_its_database(beir_dir, eval_settings, tmp_path):
    db = tmp_path / "benchdb"
    r = bench_ask(eval_settings, chunks=4, n_queries=3, data=beir_dir, db_dir=db)
    assert r["cached_db"] is False and r["chunks"] >= 4 and r["questions"] == 3
    for key in ("ask", "retrieval_only", "query_embedding_only", "ask_minus_retrieval"):
        assert r[key]["n"] == 3 and r[key]["p50_ms"] is not None
    again = bench_ask(eval_settings, chunks=4, n_queries=3, data=beir_dir, db_dir=db)
    assert again["cached_db"] is True and again["chunks"] == r["chunks"]
    other = bench_ask(eval_settings, chunks=9, n_queries=2, data=beir_dir, db_dir=db)  # another size: built
    assert other["cached_db"] is False and other["chunks"] >= 9
    json.dumps(other)


def test_cli_commands_are_registered(course, squad_dir, beir_dir, eval_settings, monkeypatch, capsys):
    from tests.conftest import run_core

    assert run_core(["eval", "definitions", "--data", str(course), "--json"], eval_settings, monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)["questions"] == 2
    assert run_core(["eval", "definitions", "--data", str(course), "--verbose"], eval_settings, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "first citation on the defining page" in out and "Q: What is" in out
    assert run_core(["eval", "coverage", "--data", str(squad_dir), "--limit", "1"], eval_settings, monkeypatch) == 0
    assert "off-topic answered <= 0.20" in capsys.readouterr().out
    assert run_core(["bench", "ask", "--chunks", "3", "--queries", "2", "--data", str(beir_dir)],
                    eval_settings, monkeypatch) == 0
    assert "retrieval only" in capsys.readouterr().out
