"""HybridIndex on a small hand-made corpus with the fake embedder."""
import numpy as np
import pytest

from core.search.embeddings import FakeEmbedder
from core.search.hybrid import Fusion, Hit, HybridIndex
from core.search.terms import tokenize

CORPUS = {
    10: "Photosynthesis converts light energy into chemical energy in chloroplasts.",
    11: "Mitochondria produce ATP through cellular respiration.",
    12: "The Krebs cycle runs inside the mitochondrial matrix.",
    13: "A B-tree index lets a database find rows without scanning the table.",
    14: "Transactions give databases atomicity, consistency, isolation and durability.",
    15: "Chlorophyll absorbs red and blue light and reflects green light.",
}
EMB = FakeEmbedder()


@pytest.fixture(scope="module")
def index():
    ids = list(CORPUS)
    texts = list(CORPUS.values())
    return HybridIndex.build(ids, texts, EMB.embed(texts))


def search(index, q, **kw):
    return index.search(q, EMB.embed_query(q), **kw)


def test_tokenize_drops_stopwords_and_case():
    (toks,) = tokenize(["The Krebs cycle and THE matrix"])
    assert "the" not in toks and "and" not in toks
    assert any(t.startswith("kreb") for t in toks)


@pytest.mark.parametrize("mode", ["dense", "bm25", "fused"])
def test_exact_term_query_ranks_right_chunk_first(index, mode):
    hits = search(index, "Krebs cycle", k=3, mode=mode)
    assert hits[0].chunk_id == 12
    assert all(isinstance(h, Hit) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def cosine(chunk_id: int, q: str) -> float:
    return float(EMB.embed([CORPUS[chunk_id]])[0] @ EMB.embed_query(q))


def test_mode_scores(index):
    d = search(index, "database index", k=2, mode="dense")[0]
    assert d.bm25 is None and d.cosine == pytest.approx(d.score) == pytest.approx(cosine(d.chunk_id, "database index"))
    assert -1.0 <= d.cosine <= 1.0 + 1e-6
    b = search(index, "database index", k=2, mode="bm25")[0]
    assert b.bm25 == pytest.approx(b.score) and b.score > 0
    assert b.cosine == pytest.approx(cosine(b.chunk_id, "database index"), abs=1e-6)


def test_fusion_draws_from_union_of_both_lists(index):
    q = "chlorophyll light database"
    qv = EMB.embed_query(q)
    dense = {h.chunk_id for h in index.search(q, qv, k=3, mode="dense")}
    bm25 = {h.chunk_id for h in index.search(q, qv, k=3, mode="bm25")}
    fused = index.search(q, qv, k=3, mode="fused", candidates=3)
    assert len(fused) == 3 and {h.chunk_id for h in fused} <= dense | bm25
    everything = index.search(q, qv, k=10, mode="fused", candidates=10)
    bm25_of = {h.chunk_id: h.bm25 for h in index.search(q, qv, k=10, mode="bm25")}
    assert {h.chunk_id for h in everything} == set(CORPUS)
    for h in fused + everything:  # each hit carries its exact score in both systems
        assert h.cosine == pytest.approx(cosine(h.chunk_id, q), abs=1e-6)
        assert h.bm25 == pytest.approx(bm25_of.get(h.chunk_id, 0.0))


def test_fusion_weights(index):
    # a query on which the two systems disagree: dense ranks 13, 12, 11; BM25 knows only 13 and 14
    q = "database index"
    ids = lambda hits: [h.chunk_id for h in hits]  # noqa: E731
    dense, bm25 = ids(search(index, q, k=2, mode="dense")), ids(search(index, q, k=2, mode="bm25"))
    assert dense != bm25
    for fusion in (Fusion(alpha=1.0), Fusion(method="rrf", bm25_weight=0.0)):
        assert ids(search(index, q, k=2, fusion=fusion)) == dense
    for fusion in (Fusion(alpha=0.0), Fusion(method="rrf", dense_weight=0.0)):
        assert ids(search(index, q, k=2, fusion=fusion)) == bm25


def test_empty_index():
    idx = HybridIndex.build([], [], np.zeros((0, 384), np.float32))
    assert len(idx) == 0
    for mode in ("dense", "bm25", "fused"):
        assert idx.search("anything", EMB.embed_query("anything"), mode=mode) == []


def test_k_larger_than_index(index):
    assert len(index) == 6
    hits = search(index, "mitochondria", k=50, mode="dense")
    assert len(hits) == 6 and len({h.chunk_id for h in hits}) == 6
    assert len(search(index, "mitochondria", k=50, mode="fused")) == 6
    bm = search(index, "mitochondria", k=50, mode="bm25")
    assert 1 <= len(bm) <= 6 and all(h.score > 0 for h in bm)


def test_unknown_terms_fall_back_to_dense(index):
    q = "zyxwv qwertyuiop"
    assert search(index, q, mode="bm25") == []
    fused = search(index, q, k=3)
    dense = search(index, q, k=3, mode="dense")
    assert [h.chunk_id for h in fused] == [h.chunk_id for h in dense]
    assert all(h.bm25 is None for h in fused)
    assert search(index, "the and of", k=2)  # stopwords only: still answers


def test_texts_without_words():
    texts = ["!!!", "--"]
    idx = HybridIndex.build([1, 2], texts, EMB.embed(["a b", "c d"]))
    assert idx.search("word", EMB.embed_query("word"), mode="bm25") == []
    assert len(idx.search("word", EMB.embed_query("word"), k=5)) == 2


def test_length_mismatch_rejected():
    with pytest.raises(ValueError):
        HybridIndex.build([1, 2], ["one"], np.zeros((2, 384), np.float32))


def test_bench_query_smoke():
    import json

    from core.cli.measure import format_bench_query
    from core.measure.bench_query import bench_query, synthetic_texts

    assert synthetic_texts(3) == synthetic_texts(3)  # deterministic
    result = bench_query(sizes=(300,), n_queries=5, embedder=EMB)
    json.dumps(result)
    (size,) = result["sizes"]
    assert size["chunks"] == 300 and size["end_to_end"]["p95_ms"] >= size["end_to_end"]["p50_ms"]
    assert "300" in format_bench_query(result)


def test_tied_bm25_scores_go_to_the_earlier_chunk_whatever_the_cut():
    """Equal texts score equally: the order, and which of them make a cut at k, is by position, not
    by whatever order the CPU's partial sort left them in (it differed between machines)."""
    texts = ["osmosis moves water across a membrane"] * 3000 + ["nothing about it here"] * 1000
    ids = list(range(100, 4100))
    built = HybridIndex.build(ids, texts, EMB.embed(texts))
    for k in (1, 7, 25, 100, 2999, 3000, 3500):
        hits = built.search("osmosis", EMB.embed_query("osmosis"), k=k, mode="bm25")
        assert [h.chunk_id for h in hits] == ids[:min(k, 3000)]
