"""A class index grows by an added document without a rebuild, and gives exactly what a rebuild would;
anything else (a delete, an id SQLite hands out again) rebuilds; readers never see a half-updated index."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from core.search.cache import IndexCache, release_seconds
from core.search.embeddings import FakeEmbedder
from core.search.hybrid import HybridIndex
from core.services import build_services
from core.services.actors import SYSTEM
from tests.factories import upload

TOPICS = {
    "cells.txt": "The cell membrane separates the cell from its surroundings. Mitochondria produce ATP. ",
    "plants.txt": "Chlorophyll absorbs red and blue light and reflects green light, so leaves look green. ",
    "genes.txt": "DNA is transcribed into RNA, which ribosomes translate into proteins of the cell. ",
}
ADDED = ("Photosynthesis in the chloroplast turns light, water and carbon dioxide into glucose; "
         "the Calvin cycle fixes carbon with rubisco, an enzyme of the stroma. ")
QUESTIONS = ["What do mitochondria produce?", "Why are leaves green?", "What does rubisco fix in the Calvin cycle?",
             "How are proteins made from DNA?", "light water glucose cell", "zzz unknownword"]


def _text(base: str, n: int) -> bytes:
    """n sentences around one topic, varied so that chunks differ (~4 chunks of 180 words for n=60)."""
    return "".join(f"Part {i}: {base}" for i in range(n)).encode()


@pytest.fixture
def course(services):
    klass = services.classes.create(SYSTEM, "Biology")
    ids = {}
    for name, text in TOPICS.items():
        result = upload(services, SYSTEM, klass.id, name, _text(text, 60))
        assert result.ok, result.error
        ids[name] = result.document_id
    return services, klass.id, ids


def _counting_builds(cache: IndexCache, monkeypatch) -> list[int]:
    builds: list[int] = []
    full = cache._build
    monkeypatch.setattr(cache, "_build", lambda class_id: builds.append(class_id) or full(class_id))
    return builds


def _assert_same(got, want, embedder) -> None:
    """Two class indexes hold the same chunks, visibility and search results (to 1e-6)."""
    assert list(got.chunks) == list(want.chunks) and got.chunks == want.chunks
    np.testing.assert_array_equal(got.instructors_only, want.instructors_only)
    np.testing.assert_array_equal(got.release_s, want.release_s)
    np.testing.assert_array_equal(got.hybrid._emb, want.hybrid._emb)
    masks = [None, np.arange(len(want)) % 3 != 0]
    for q in QUESTIONS:
        vec = embedder.embed_query(q)
        g, w = got.hybrid._bm25_scores(q), want.hybrid._bm25_scores(q)
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_allclose(g, w, atol=1e-6)
        for allowed in masks:
            for mode in ("fused", "dense", "bm25"):
                a = got.hybrid.search(q, vec, k=8, mode=mode, allowed=allowed)
                b = want.hybrid.search(q, vec, k=8, mode=mode, allowed=allowed)
                assert [h.chunk_id for h in a] == [h.chunk_id for h in b], (q, mode)
                for x, y in zip(a, b):
                    assert x.score == pytest.approx(y.score, abs=1e-6)
                    assert x.cosine == pytest.approx(y.cosine, abs=1e-6)
                    assert (x.bm25 is None) == (y.bm25 is None)
                    if y.bm25 is not None:
                        assert x.bm25 == pytest.approx(y.bm25, abs=1e-6)


def test_an_added_document_extends_the_index_and_matches_a_rebuild(course, monkeypatch):
    svc, class_id, _ = course
    cache = IndexCache(svc.db)
    before = cache.get(class_id)
    builds = _counting_builds(cache, monkeypatch)
    added = upload(svc, SYSTEM, class_id, "photosynthesis.txt", _text(ADDED, 40))
    assert added.ok and added.chunks > 1

    grown = cache.get(class_id)

    assert builds == []  # extended, not rebuilt
    assert len(grown) == len(before) + added.chunks
    assert "rubisco" in grown.hybrid._vocab and "rubisco" not in before.hybrid._vocab  # the old one untouched
    assert {c.document_id for c in grown.chunks.values()} >= {added.document_id}
    _assert_same(grown, IndexCache(svc.db).get(class_id), svc.embedder)
    top = grown.view().search("What does rubisco fix?", svc.embedder.embed_query("What does rubisco fix?"), k=1)
    assert top[0].chunk.document_id == added.document_id


def test_several_additions_in_a_row_match_a_rebuild(course, monkeypatch):
    svc, class_id, _ = course
    cache = IndexCache(svc.db)
    cache.get(class_id)
    builds = _counting_builds(cache, monkeypatch)
    for i in range(3):
        text = _text(f"Extra topic {i} enzyme{i}. " + ADDED, 20)
        assert upload(svc, SYSTEM, class_id, f"extra{i}.txt", text).ok
        cache.get(class_id)
    assert builds == []
    _assert_same(cache.get(class_id), IndexCache(svc.db).get(class_id), svc.embedder)


def test_a_delete_rebuilds_and_leaves_nothing_of_the_document(course, monkeypatch):
    svc, class_id, ids = course
    cache = IndexCache(svc.db)
    cache.get(class_id)
    builds = _counting_builds(cache, monkeypatch)
    svc.documents.delete(SYSTEM, ids["plants.txt"])

    index = cache.get(class_id)

    assert builds == [class_id]
    assert ids["plants.txt"] not in {c.document_id for c in index.chunks.values()}
    _assert_same(index, IndexCache(svc.db).get(class_id), svc.embedder)


def test_a_delete_and_an_upload_between_two_reads_rebuild(course, monkeypatch):
    """SQLite gives the deleted last document's id, and its chunks' ids, to the next upload: the
    ids alone look unchanged, the document's creation time does not."""
    svc, class_id, ids = course
    cache = IndexCache(svc.db)
    cache.get(class_id)
    builds = _counting_builds(cache, monkeypatch)
    svc.documents.delete(SYSTEM, ids["genes.txt"])
    replaced = upload(svc, SYSTEM, class_id, "photosynthesis.txt", _text(ADDED, 60))
    assert replaced.ok

    index = cache.get(class_id)

    assert builds == [class_id]
    assert {c.document_id for c in index.chunks.values()} == {ids["cells.txt"], ids["plants.txt"], replaced.document_id}
    assert not any("ribosomes" in c.text for c in index.chunks.values())
    _assert_same(index, IndexCache(svc.db).get(class_id), svc.embedder)


def test_a_visibility_change_updates_the_masks_without_a_rebuild(course, monkeypatch):
    svc, class_id, ids = course
    cache = IndexCache(svc.db)
    before = cache.get(class_id)
    assert not before.instructors_only.any()
    builds = _counting_builds(cache, monkeypatch)
    release = datetime.now(timezone.utc) + timedelta(days=3)
    svc.documents.set_visibility(SYSTEM, ids["cells.txt"], True, None)
    svc.documents.set_visibility(SYSTEM, ids["genes.txt"], False, release)

    after = cache.get(class_id)

    assert builds == [] and after.hybrid is before.hybrid  # the search index itself is shared
    of = np.array([after.chunks[c].document_id for c in after.chunks])
    np.testing.assert_array_equal(after.instructors_only, of == ids["cells.txt"])
    assert np.isnan(after.release_s[of != ids["genes.txt"]]).all()
    np.testing.assert_allclose(after.release_s[of == ids["genes.txt"]], release_seconds(release))
    assert not before.instructors_only.any()  # a reader holding the old index sees the old masks
    _assert_same(after, IndexCache(svc.db).get(class_id), svc.embedder)


def test_searches_during_additions_never_fail(course):
    svc, class_id, _ = course
    cache = IndexCache(svc.db)
    cache.get(class_id)
    stop, errors, searches = threading.Event(), [], [0]
    vec = svc.embedder.embed_query("light and cells")

    def hammer():
        while not stop.is_set():
            try:
                index = cache.get(class_id)
                allowed = ~index.instructors_only
                for match in index.view(allowed).search("light and cells", vec, k=8):
                    assert match.chunk.chunk_id in index.chunks
                assert len(index.instructors_only) == len(index.hybrid) == len(index)
                searches[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        for i in range(4):
            assert upload(svc, SYSTEM, class_id, f"more{i}.txt", _text(f"Topic {i}. " + ADDED, 15)).ok
            cache.get(class_id)
    finally:
        stop.set()
        thread.join(30)
    assert errors == [] and searches[0] > 0
    _assert_same(cache.get(class_id), IndexCache(svc.db).get(class_id), svc.embedder)


def test_two_services_on_one_database_see_each_others_changes(course, settings):
    svc_a, class_id, ids = course
    svc_b = build_services(settings, migrate=False, embedder=FakeEmbedder())
    try:
        first = svc_a.chat.indexes.get(class_id)
        added = upload(svc_b, SYSTEM, class_id, "photosynthesis.txt", _text(ADDED, 40))
        assert added.ok
        grown = svc_a.chat.indexes.get(class_id)
        assert len(grown) == len(first) + added.chunks
        assert added.document_id in {c.document_id for c in grown.chunks.values()}

        svc_b.documents.delete(SYSTEM, ids["cells.txt"])
        shrunk = svc_a.chat.indexes.get(class_id)
        assert ids["cells.txt"] not in {c.document_id for c in shrunk.chunks.values()}
        _assert_same(shrunk, svc_b.chat.indexes.get(class_id), svc_a.embedder)
    finally:
        svc_b.db.engine.dispose()


def test_extending_leaves_the_original_index_as_it_was():
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((6, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    texts = ["alpha beta", "beta gamma", "gamma delta", "delta alpha", "epsilon zeta", "zeta alpha"]
    base = HybridIndex.build([1, 2, 3, 4], texts[:4], vecs[:4])
    before = [(h.chunk_id, h.score) for h in base.search("alpha", vecs[0], k=4)]

    grown = HybridIndex.build_from([([5, 6], texts[4:], vecs[4:])], base=base)

    assert len(base) == 4 and base._dense.ntotal == 4 and "zeta" not in base._vocab
    assert [(h.chunk_id, h.score) for h in base.search("alpha", vecs[0], k=4)] == before
    fresh = HybridIndex.build([1, 2, 3, 4, 5, 6], texts, vecs)
    for q in ("alpha", "zeta epsilon", "gamma"):
        a, b = grown.search(q, vecs[4], k=6), fresh.search(q, vecs[4], k=6)
        assert [(h.chunk_id, round(h.score, 6), h.bm25 and round(h.bm25, 6)) for h in a] == \
               [(h.chunk_id, round(h.score, 6), h.bm25 and round(h.bm25, 6)) for h in b]
    np.testing.assert_array_equal(grown._emb, vecs)
    # the vectors are held once: _emb is a view of the new FAISS index's own storage, taken after its add
    faiss = pytest.importorskip("faiss")
    address = faiss.rev_swig_ptr(grown._dense.get_xb(), 1).__array_interface__["data"][0]
    assert grown._emb.__array_interface__["data"][0] == address and not grown._emb.flags.owndata


def test_the_bm25_matrix_is_bit_identical_to_bm25s_own_build():
    """The index builds BM25 from term counts with whole-array operations: same matrix as bm25s's
    own chunk-by-chunk build, to the bit (guards a bm25s upgrade changing its scoring)."""
    import bm25s

    from core.measure.bench_query import synthetic_texts
    from core.search.hybrid import TermCounts, bm25_matrix
    from core.search.terms import analyse

    texts = synthetic_texts(300, seed=3) + ["", "the of and"]  # an empty chunk and one of stopwords only
    term_ids, vocab = analyse(texts)
    ours = bm25_matrix(TermCounts.of(term_ids, len(vocab)), vocab)
    theirs = bm25s.BM25()
    theirs.index((term_ids, vocab), create_empty_token=False, show_progress=False)
    for key in ("data", "indices", "indptr"):
        assert ours.scores[key].dtype == theirs.scores[key].dtype
        np.testing.assert_array_equal(ours.scores[key], theirs.scores[key])
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(texts)
