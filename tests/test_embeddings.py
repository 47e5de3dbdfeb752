"""Embedders: the fake's properties, and the real model's shapes and semantics."""
import subprocess
import sys

import numpy as np
import pytest

from core.search.embeddings import FakeEmbedder, MiniLMEmbedder, make_embedder


def test_fake_shapes_dtype_and_norm():
    emb = FakeEmbedder()
    m = emb.embed(["the cell wall of plants", "SQL indexes speed up joins", ""])
    assert m.shape == (3, 384) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m[:2], axis=1), 1.0, atol=1e-5)
    assert np.all(m[2] == 0)  # nothing to hash: zero vector, not NaN
    q = emb.embed_query("plants")
    assert q.shape == (384,) and q.dtype == np.float32


def test_fake_is_deterministic_and_shares_words():
    a, b = FakeEmbedder(), FakeEmbedder()
    texts = ["Photosynthesis happens in the leaves of plants", "Databases store rows in tables"]
    assert np.array_equal(a.embed(texts), b.embed(texts))
    q = a.embed_query("photosynthesis in plants")
    m = a.embed(texts)
    assert m[0] @ q > m[1] @ q


def test_empty_input():
    assert FakeEmbedder().embed([]).shape == (0, 384)


def test_factory():
    assert isinstance(make_embedder("fake"), FakeEmbedder)
    assert make_embedder("minilm") is make_embedder("minilm")
    with pytest.raises(ValueError):
        make_embedder("nope")


def test_import_does_not_load_torch():
    code = "import sys, core.search.embeddings, core.search.hybrid; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.model
def test_minilm_real_model():
    emb = MiniLMEmbedder(batch_size=2)
    texts = ["Plants convert sunlight into chemical energy in their chloroplasts.",
             "A relational database stores records in tables indexed by primary keys.",
             "Leaves are green."]
    m = emb.embed(texts)
    assert m.shape == (3, 384) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    q = emb.embed_query("photosynthesis in plants")
    assert q.shape == (384,)
    assert m[0] @ q > m[1] @ q + 0.2
    # batching must not change the result
    assert np.allclose(emb.embed(texts[:1])[0], m[0], atol=1e-5)
