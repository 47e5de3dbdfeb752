"""Finding the passages for a question: `embeddings` (MiniLM or a fake), `terms` (BM25's words),
`hybrid` (FAISS + BM25, fused), `cache` (one index per class, rebuilt when the class changes) and
`native` (the process-wide settings of the native libraries underneath)."""
