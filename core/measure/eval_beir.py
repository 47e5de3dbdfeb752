"""Evaluate the hybrid retriever on a BEIR collection (nDCG@10, Recall@100).

The ranking goes through the same HybridIndex the app uses; corpus embeddings are cached
on disk, keyed by the corpus file's hash and the model name, so a rerun takes seconds.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from core.search.embeddings import Embedder, make_embedder
from core.search.hybrid import Fusion, HybridIndex

# what the app uses ("fused": convex fusion) beside its two parts, and reciprocal-rank fusion,
# the usual alternative, measured in the same run (docs/retrieval.md)
RANKINGS: dict[str, dict] = {
    "dense": {"mode": "dense"},
    "bm25": {"mode": "bm25"},
    "fused": {"mode": "fused"},
    "rrf": {"mode": "fused", "fusion": Fusion(method="rrf")},
}
DEPTH = 100  # ranking depth: Recall@100 needs 100 results per query

Progress = Callable[[str], None]


def load_beir(directory: Path, split: str = "train"):
    """Return (doc_ids, doc_texts, queries {qid: text}, qrels {qid: {doc_id: grade}})."""
    directory = Path(directory)
    doc_ids: list[str] = []
    texts: list[str] = []
    with open(directory / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                doc_ids.append(str(d["_id"]))
                texts.append(f"{d.get('title') or ''} {d.get('text') or ''}".strip())
    queries: dict[str, str] = {}
    with open(directory / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                queries[str(q["_id"])] = q["text"]
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        have = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"no qrels for split {split!r} in {directory} (have: {', '.join(have) or 'none'})")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        next(rows, None)  # header row
        for row in rows:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return doc_ids, texts, queries, qrels


def ndcg_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """Graded nDCG@k as in BEIR/trec_eval: gain = grade, discount = 1/log2(rank + 1)."""
    gains = np.array([rels.get(d, 0) for d in ranked[:k]], dtype=float)
    dcg = float(np.sum(gains / np.log2(np.arange(2, gains.size + 2))))
    ideal = np.sort(np.array([g for g in rels.values() if g > 0], dtype=float))[::-1][:k]
    idcg = float(np.sum(ideal / np.log2(np.arange(2, ideal.size + 2))))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade > 0) found in the top k."""
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def _corpus_hash(directory: Path) -> str:
    h = hashlib.sha256()
    with open(Path(directory) / "corpus.jsonl", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_embeddings(directory: Path, texts: Sequence[str], embedder: Embedder, cache_dir: Path,
                      progress: Progress | None = None):
    """Return (embeddings, stats), embedding the corpus only when no cache in cache_dir matches."""
    cache_dir = Path(cache_dir)
    key = hashlib.sha256(f"{_corpus_hash(directory)}|{embedder.name}".encode()).hexdigest()[:24]
    npy, meta = cache_dir / f"beir-{key}.npy", cache_dir / f"beir-{key}.json"
    if npy.exists() and meta.exists():
        emb = np.load(npy)
        if emb.shape == (len(texts), embedder.dim):
            stats = json.loads(meta.read_text())
            return emb, {**stats, "cached": True}
    if progress:
        progress(f"embedding {len(texts)} documents with {embedder.name}")
    t0 = time.perf_counter()
    emb = embedder.embed(texts)
    seconds = time.perf_counter() - t0
    stats = {"docs": len(texts), "embed_seconds": round(seconds, 2),
             "docs_per_second": round(len(texts) / seconds, 1) if seconds > 0 else None}
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = npy.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, npy)
    meta.write_text(json.dumps(stats))
    return emb, {**stats, "cached": False}


def run_beir(directory: Path, cache_dir: Path, split: str = "train", embedder: Embedder | None = None,
             progress: Progress | None = None, candidates: int = 100) -> dict:
    """Rank a BEIR collection with HybridIndex in each ranking; return metrics and timings."""
    directory = Path(directory)
    embedder = embedder or make_embedder("minilm")
    doc_ids, texts, queries, qrels = load_beir(directory, split)
    qids = [q for q in qrels if q in queries and any(g > 0 for g in qrels[q].values())]
    emb, embed_stats = corpus_embeddings(directory, texts, embedder, cache_dir, progress)

    t0 = time.perf_counter()
    index = HybridIndex.build(range(len(doc_ids)), texts, emb)
    build_seconds = time.perf_counter() - t0
    if progress:
        progress(f"index built in {build_seconds:.2f} s; ranking {len(qids)} queries")
    qvecs = embedder.embed([queries[q] for q in qids])

    metrics: dict[str, dict[str, float]] = {}
    search_ms: dict[str, float] = {}
    for ranking, options in RANKINGS.items():
        ndcg, recall = [], []
        t0 = time.perf_counter()
        for qid, qvec in zip(qids, qvecs):
            hits = index.search(queries[qid], qvec, k=DEPTH, candidates=candidates, **options)
            ranked = [doc_ids[h.chunk_id] for h in hits]
            ndcg.append(ndcg_at_k(ranked, qrels[qid], 10))
            recall.append(recall_at_k(ranked, qrels[qid], DEPTH))
        search_ms[ranking] = round(1000 * (time.perf_counter() - t0) / max(1, len(qids)), 3)
        metrics[ranking] = {"ndcg@10": round(float(np.mean(ndcg)), 4) if ndcg else 0.0,
                         "recall@100": round(float(np.mean(recall)), 4) if recall else 0.0}
    return {
        "dataset": directory.name,
        "split": split,
        "docs": len(doc_ids),
        "queries": len(qids),
        "model": embedder.name,
        "metrics": metrics,
        "timing": {**embed_stats, "index_build_seconds": round(build_seconds, 3),
                   "search_ms_per_query": search_ms},
    }
