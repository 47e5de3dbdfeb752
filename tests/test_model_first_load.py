"""The first questions of a burst load the model together: in a fresh process, twenty threads
embedding at once all get a vector (importing transformers from several threads at once once left
it half-imported for the life of the server: found by `python -m loadtest`, core/search/native.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import threading
from core.search.embeddings import make_embedder

embedder = make_embedder("minilm", batch_size=16, precision="auto")
errors, barrier = [], threading.Barrier(20)

def ask():
    barrier.wait()
    try:
        assert embedder.embed(["what is osmosis?"]).shape == (1, 384)
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=ask) for _ in range(20)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), errors[:1])
"""


def test_twenty_threads_loading_the_model_at_once_all_get_vectors():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr[-2000:]
