"""The class index's compact form (streamed build, compact chunk table) answers exactly as before.

`index_results_before.json` holds what the index built by the code before the memory work (one
in-memory batch, texts as Python strings) answered on a sizeable synthetic class: for every query,
mode and mask, the hits' positions in the class, fused scores, cosines and BM25 scores. The index the
cache builds now must give the same. Regenerate only from a build known to be right:
`python -m tests.test_index_memory OUT.json`.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from core.measure.bench_index import add_documents
from core.measure.bench_query import random_unit_vectors, synthetic_texts
from core.search import cache as cache_module
from core.search.cache import IndexCache
from core.search.hybrid import HybridIndex
from core.services.actors import SYSTEM

CHUNKS = 4_000  # 134 documents of 30 chunks (the last one shorter)
DIM = 384
GOLDEN = Path(__file__).with_name("index_results_before.json")


def _queries() -> list[tuple[str, np.ndarray]]:
    """Short queries from the class's own words (some with words it never uses), each with a vector
    near one chunk's, so both systems have real candidates."""
    words = synthetic_texts(40, words=6, seed=7)
    near = random_unit_vectors(CHUNKS, DIM, seed=0)
    noise = random_unit_vectors(40, DIM, seed=11)
    out = []
    for i, text in enumerate(words):
        if i % 5 == 4:
            text += " qqzx"  # a word no chunk holds
        if i % 10 == 9:
            text = "qqzx zzqy"  # no known word at all: BM25 has nothing, the dense order stands
        v = near[(i * 97) % CHUNKS] + 0.8 * noise[i]
        out.append((text, (v / np.linalg.norm(v)).astype(np.float32)))
    return out


def _masks(n: int) -> dict[str, np.ndarray | None]:
    return {"all": None, "two_thirds": np.arange(n) % 3 != 0, "sparse": np.arange(n) % 17 == 0}


def results_of(index) -> dict:
    """Every query's hits in every mode and mask, by position in the class (ids differ between databases)."""
    ids = np.fromiter(index.chunks, dtype=np.int64)
    out = {}
    for q, (text, vec) in enumerate(_queries()):
        for mask_name, allowed in _masks(len(ids)).items():
            for mode in ("fused", "dense", "bm25"):
                hits = index.hybrid.search(text, vec, k=10, mode=mode, allowed=allowed)
                out[f"{q}/{mask_name}/{mode}"] = [
                    [int(np.searchsorted(ids, h.chunk_id)), h.score, h.cosine, h.bm25] for h in hits]
    return out


@pytest.fixture
def synthetic_class(services):
    class_id = services.classes.create(SYSTEM, "synthetic").id
    add_documents(services.db, class_id, CHUNKS, seed=0, dim=DIM)
    return services, class_id


TIE = 1e-6  # scores closer than this are one score computed in another order (float sums differ by CPU)


def _tie_groups(hits: list) -> list[list]:
    """Consecutive hits of the same score, each group in position order: which of two tied chunks
    comes first was the CPU's sort's choice when the golden file was made (the index now breaks
    ties by position, on every machine)."""
    groups: list[list] = []
    for h in hits:
        if groups and abs(groups[-1][-1][1] - h[1]) <= TIE:
            groups[-1].append(h)
        else:
            groups.append([h])
    return [sorted(g, key=lambda h: h[0]) for g in groups]


def _assert_same_results(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, hits in want.items():
        got_groups, want_groups = _tie_groups(got[key]), _tie_groups(hits)
        assert [len(g) for g in got_groups] == [len(g) for g in want_groups], key
        # the last group may be a tie cut at k: which of its chunks made the cut is arbitrary
        assert [h[0] for g in got_groups[:-1] for h in g] == [h[0] for g in want_groups[:-1] for h in g], key
        in_order = [h for g in got_groups for h in g], [h for g in want_groups for h in g]
        for g, w in zip(*in_order):
            if g[0] != w[0]:  # a different chunk of the cut tie: the same score, nothing else to compare
                assert g[1] == pytest.approx(w[1], abs=TIE), key
                continue
            assert g[1:3] == pytest.approx(w[1:3], abs=1e-6), key
            assert (g[3] is None) == (w[3] is None), key
            if w[3] is not None:
                assert g[3] == pytest.approx(w[3], abs=1e-6), key


def test_the_streamed_index_answers_as_the_index_before_the_memory_work(synthetic_class, monkeypatch):
    services, class_id = synthetic_class
    monkeypatch.setattr(cache_module, "READ_BATCH", 512)  # many batches, one partial
    index = IndexCache(services.db).get(class_id)
    assert len(index) == CHUNKS
    want = json.loads(GOLDEN.read_text())
    assert sum(map(len, want.values())) > 2_000  # the golden file really holds results
    _assert_same_results(results_of(index), want)


def test_the_chunk_table_returns_each_chunks_own_text_page_and_document(synthetic_class, monkeypatch):
    services, class_id = synthetic_class
    monkeypatch.setattr(cache_module, "READ_BATCH", 700)
    index = IndexCache(services.db).get(class_id)
    texts = synthetic_texts(CHUNKS, seed=0)
    ids = list(index.chunks)
    assert ids == sorted(ids) and len(set(ids)) == CHUNKS
    for position in (0, 1, 699, 700, 2_345, CHUNKS - 1):
        chunk = index.chunks[ids[position]]
        assert chunk.chunk_id == ids[position]
        assert chunk.text == texts[position]
        assert chunk.filename == f"synthetic-0-{position // 30}.txt" and chunk.content_type == "text/plain"
        assert chunk.page is None and chunk.page_label is None
    assert ids[-1] + 1 not in index.chunks
    with pytest.raises(KeyError):
        index.chunks[ids[-1] + 1]
    # a search's matches carry the texts of the chunks found
    text, vec = _queries()[0]
    for match in index.view().search(text, vec, k=5):
        assert match.chunk.text == texts[ids.index(match.chunk.chunk_id)]


def test_a_streamed_build_equals_a_build_in_one_piece():
    texts = synthetic_texts(3_000, seed=3)
    vectors = random_unit_vectors(3_000, DIM, seed=3)
    ids = np.arange(10, 3_010)
    whole = HybridIndex.build(ids, texts, vectors)
    parts = HybridIndex.build_from((ids[i:i + 256], texts[i:i + 256], vectors[i:i + 256]) for i in range(0, 3_000, 256))
    np.testing.assert_array_equal(parts._emb, whole._emb)
    np.testing.assert_array_equal(parts._ids, whole._ids)
    for text, vec in _queries()[:20]:
        for mode in ("fused", "dense", "bm25"):
            a = parts.search(text, vec, k=10, mode=mode)
            b = whole.search(text, vec, k=10, mode=mode)
            assert [(h.chunk_id, h.score, h.cosine, h.bm25) for h in a] == \
                   [(h.chunk_id, h.score, h.cosine, h.bm25) for h in b], (text, mode)


def test_an_empty_index_grows_by_its_first_document_and_an_empty_part_changes_nothing():
    texts = ["alpha beta", "beta gamma"]
    vectors = random_unit_vectors(2, 8, seed=1)
    empty = HybridIndex.build([], [], np.zeros((0, 8), np.float32))
    assert len(empty) == 0 and empty.search("alpha", vectors[0]) == []
    grown = HybridIndex.build_from([([1, 2], texts, vectors)], base=empty)
    assert len(grown) == 2 and [h.chunk_id for h in grown.search("gamma", vectors[1], k=2)][0] == 2
    assert HybridIndex.build_from([([], [], np.zeros((0, 8), np.float32))], base=grown) is grown
    assert HybridIndex.build_from([], base=grown) is grown



def _write_golden(path: str) -> None:  # pragma: no cover - run by hand
    from core.config import Settings
    from core.measure.eval_coverage import evaluation_services
    from core.search.embeddings import FakeEmbedder

    settings = Settings(app_env="test", embedder="fake", auth_cookie_key="x" * 40)
    with tempfile.TemporaryDirectory() as tmp, \
            evaluation_services(settings, data_dir=Path(tmp), embedder=FakeEmbedder(DIM)) as (services, _):
        class_id = services.classes.create(SYSTEM, "synthetic").id
        add_documents(services.db, class_id, CHUNKS, seed=0, dim=DIM)
        Path(path).write_text(json.dumps(results_of(IndexCache(services.db).get(class_id))))


if __name__ == "__main__":  # pragma: no cover
    _write_golden(sys.argv[1])

