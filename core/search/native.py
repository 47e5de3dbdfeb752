"""The native libraries behind search, imported here and nowhere else, each with its process-wide
settings applied once, when it is first needed (never on the login page's path).

Every global change ClassGPT makes to a library lives in this file, with the measurement behind it
(docs/retrieval.md).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Iterator
from types import ModuleType


@functools.cache
def faiss() -> ModuleType:
    import faiss as lib

    return lib


@contextlib.contextmanager
def faiss_single_thread() -> Iterator[None]:
    """One query at a time: FAISS's OpenMP team made a single flat search 3x slower on two cores
    (~31 ms vs ~10 ms at 100k vectors, measured), so search on one thread. Only around the search:
    FAISS and torch share one OpenMP runtime, and a process-wide omp_set_num_threads(1) made on
    FAISS's first import (after torch had started) left torch's embedding on one core for the
    rest of the process: ask p50 ~125 ms became ~430 ms (bench ask, 10k chunks)."""
    lib = faiss()
    before = lib.omp_get_max_threads()
    lib.omp_set_num_threads(1)
    try:
        yield
    finally:
        lib.omp_set_num_threads(before)


@functools.cache
def bm25s() -> ModuleType:
    import bm25s as lib

    # bm25s sets its own logger to DEBUG on import; its per-build messages are noise in our logs
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return lib


@functools.cache
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopwords, as bm25s ships them."""
    bm25s()  # its settings first: the submodule import runs the package's
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@functools.cache
def stemmer():
    """English Snowball stemmer (PyStemmer), or None where it is not installed: stemming raised
    BM25 nDCG@10 on SciFact train from 0.667 to 0.696."""
    try:
        import Stemmer
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return Stemmer.Stemmer("english")


# Importing torch/transformers from two threads at once (the first questions of a burst, each
# loading the model) left transformers half-imported for the life of the process ("module
# 'transformers' has no attribute 'AutoTokenizer'", found by `python -m loadtest`): one import at a time.
_import_lock = threading.Lock()


def transformers() -> ModuleType:
    with _import_lock:
        return _transformers()


@functools.cache
def _transformers() -> ModuleType:
    """transformers on torch, offline and quiet; torch uses every core.

    Not sentence-transformers: importing it pulls scikit-learn, SciPy, pandas and pyarrow (for its
    training and evaluation code), ~110 MB of a process's RSS that embedding never uses
    (docs/retrieval.md, "Memory"); core/search/embeddings.py runs the model's three modules itself."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights come from site-packages, never a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # Idle OpenMP workers sleep instead of spinning: on a shared or busy host a spinning
    # 2-thread team made one query embedding ~10x slower (measured). Must precede torch's import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    import transformers as lib

    lib.utils.logging.disable_progress_bar()  # "Loading weights" on every load
    # Both cores for the matrix multiplies (batch embedding is the ingestion bottleneck).
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return lib
