"""BEIR evaluation: metric formulas by hand, and a tiny collection end to end."""
import json
import math

import pytest

from core.search.embeddings import FakeEmbedder
from core.cli.measure import format_beir
from core.measure.eval_beir import load_beir, ndcg_at_k, recall_at_k, run_beir


def test_ndcg_graded_by_hand():
    rels = {"b": 2, "c": 1, "z": 1}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["a", "b", "c"], rels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["b", "c", "z"], rels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a"] * 10 + ["b"], rels, 10) == 0.0  # beyond the cut-off
    assert ndcg_at_k([], rels) == 0.0


def test_recall_by_hand():
    rels = {"b": 2, "c": 1, "z": 1, "n": 0}  # grade 0 is not relevant
    assert recall_at_k(["a", "b", "c"], rels, 100) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "b", "c"], rels, 2) == pytest.approx(1 / 3)


DOCS = [
    {"_id": "d1", "title": "Chloroplasts", "text": "Chlorophyll absorbs sunlight in leaves."},
    {"_id": "d2", "title": "Respiration", "text": "The Krebs cycle runs in mitochondria."},
    {"_id": "d3", "title": "Storage", "text": "A relational engine keeps rows in tables."},
    {"_id": "d4", "title": "", "text": "Green pigments of algae."},
]
QUERIES = [
    {"_id": "q1", "text": "krebs cycle"},
    {"_id": "q2", "text": "chlorophyll"},
    {"_id": "q3", "text": "tables rows"},  # no qrels in train: not evaluated
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\nq2\td4\t1\n"


@pytest.fixture
def collection(tmp_path):
    d = tmp_path / "tiny"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text("\n".join(json.dumps(x) for x in DOCS) + "\n")
    (d / "queries.jsonl").write_text("\n".join(json.dumps(x) for x in QUERIES) + "\n")
    (d / "qrels" / "train.tsv").write_text(QRELS)
    return d


def test_load_beir(collection):
    ids, texts, queries, qrels = load_beir(collection, "train")
    assert ids == ["d1", "d2", "d3", "d4"] and texts[0].startswith("Chloroplasts Chlorophyll")
    assert set(queries) == {"q1", "q2", "q3"}
    assert qrels == {"q1": {"d2": 1}, "q2": {"d1": 1, "d4": 1}}  # header skipped


def test_run_beir_end_to_end(collection, tmp_path):
    result = run_beir(collection, tmp_path / "c", "train", embedder=FakeEmbedder())
    assert result["queries"] == 2 and result["docs"] == 4
    # BM25 finds only the documents sharing a term: q1 -> [d2]; q2 -> [d1] (d4 unreachable)
    q2_ndcg = 1 / (1 + 1 / math.log2(3))
    assert result["metrics"]["bm25"]["ndcg@10"] == pytest.approx((1 + q2_ndcg) / 2, abs=1e-4)
    assert result["metrics"]["bm25"]["recall@100"] == pytest.approx(0.75)
    # dense and fused rank all 4 documents, so recall@100 is complete
    assert result["metrics"]["dense"]["recall@100"] == 1.0
    assert result["metrics"]["fused"]["recall@100"] == 1.0
    assert result["metrics"]["rrf"]["recall@100"] == 1.0  # the usual alternative, in the same run
    assert result["timing"]["cached"] is False
    json.dumps(result)  # the CLI prints it as JSON
    again = run_beir(collection, tmp_path / "c", "train", embedder=FakeEmbedder())
    assert again["timing"]["cached"] is True and again["metrics"] == result["metrics"]
    text = format_beir(result)
    assert "fused" in text and "rrf" in text and "nDCG@10" in text
