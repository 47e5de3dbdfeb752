"""EMBED_PRECISION: the setting, how `auto` decides, bf16 vectors that stay comparable with fp32 ones
(same texts, mixed-precision retrieval), and `health` naming the path. Speed lives in `bench embed`."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pydantic
import pytest

import core.search.embeddings as embeddings
from core.config import Settings
from core.search.embeddings import MINILM_NAME, MiniLMEmbedder, embedding_precision, make_embedder, resolve_precision
from core.search.hybrid import HybridIndex
from core.services.actors import SYSTEM
from tests.app_support import PASSWORD, app_env, logged_in  # noqa: F401
from tests.conftest import run_core


def test_setting_defaults_to_auto_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv("EMBED_PRECISION", raising=False)
    assert Settings().embed_precision == "auto"
    monkeypatch.setenv("EMBED_PRECISION", "bf16")
    assert Settings().embed_precision == "bf16"
    monkeypatch.setenv("EMBED_PRECISION", "fp16")
    with pytest.raises(pydantic.ValidationError, match="embed_precision"):
        Settings()


@pytest.mark.parametrize("setting, isa, bf16, label", [
    ("auto", "AMX", True, "bf16 (AMX)"),
    ("auto", "AVX512_BF16", False, "fp32 (AVX512_BF16 without AMX: bf16 is slower)"),  # measured: docs/embedding.md
    ("auto", None, False, "fp32 (no bf16 support)"),
    ("fp32", "AMX", False, "fp32 (set)"),
    ("bf16", "AMX", True, "bf16 (AMX, set)"),
    ("bf16", None, True, "bf16 (set; no native bf16 on this CPU: slower)"),  # forced: honoured, and said so
])
def test_resolve_precision(setting, isa, bf16, label):
    assert resolve_precision(setting, isa) == embeddings.Precision(bf16, label)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16", "AMX")
    with pytest.raises(ValueError, match="fp16"):
        make_embedder("minilm", precision="fp16")


def test_auto_picks_fp32_when_the_cpu_reports_no_bf16(monkeypatch):
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: None)
    assert embedding_precision("auto") == embeddings.Precision(False, "fp32 (no bf16 support)")
    emb = MiniLMEmbedder(precision="auto")
    assert emb.precision == "fp32 (no bf16 support)" and emb.name == MINILM_NAME
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: "AMX")
    emb = MiniLMEmbedder(precision="auto")
    assert emb.precision == "bf16 (AMX)" and emb.name == f"{MINILM_NAME}+bf16"  # eval caches keep them apart


def test_fp32_never_asks_the_cpu(monkeypatch):
    def no(): raise AssertionError("fp32 (set) must not need torch's CPU check")
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", no)
    assert embedding_precision("fp32").label == "fp32 (set)"


def test_make_embedder_takes_the_precision_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: "AMX")
    monkeypatch.setenv("EMBED_PRECISION", "fp32")
    assert make_embedder("minilm", batch_size=5).precision == "fp32 (set)"
    assert make_embedder("minilm", batch_size=5, precision="auto").precision == "bf16 (AMX)"
    assert make_embedder("minilm", batch_size=5, precision="fp32") is make_embedder("minilm", batch_size=5)


@pytest.mark.parametrize("isa, shown", [("AMX", "bf16 (AMX)"), (None, "fp32 (no bf16 support)")])
def test_health_names_the_path(settings, monkeypatch, capsys, isa, shown):
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: isa)
    real = settings.model_copy(update={"embedder": "minilm", "embed_precision": "auto"})
    assert run_core(["migrate", "--no-backup"], real, monkeypatch) == 0
    capsys.readouterr()
    assert run_core(["health"], real, monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedding"]["precision"] == shown and report["embedding"]["model"] == MINILM_NAME


def test_health_with_the_fake_embedder_says_so(settings, monkeypatch, capsys):
    assert run_core(["migrate", "--no-backup"], settings, monkeypatch) == 0
    capsys.readouterr()
    assert run_core(["health"], settings, monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)["embedding"]["precision"] == "n/a (not the model)"


def test_the_status_page_shows_the_path(app_env, monkeypatch):
    from ui.state import get_services

    monkeypatch.setenv("EMBEDDER", "minilm")  # the model's settings; the page must not load it
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: "AMX")
    accounts = get_services().accounts
    accounts.register("boss@example.edu", PASSWORD, "Boss")
    accounts.set_admin(SYSTEM, "boss@example.edu")
    at = logged_in(app_env, "boss@example.edu", page_name="status")
    assert [c.value for c in at.caption if c.value.startswith("Embedding:")] == [
        f"Embedding: minilm · bf16 (AMX) · model {'loaded' if embeddings.model_loaded() else 'loads on first use'}"]


# --- the real model -------------------------------------------------------------------------------

VARIED = [
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Mitochondria are the site of oxidative phosphorylation in eukaryotic cells.",
    "The derivative of sin(x) is cos(x); the integral of 1/x is ln|x| + C.",
    "SELECT name FROM students WHERE grade > 90 ORDER BY name;",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "The French Revolution began in 1789 with the storming of the Bastille.",
    "Supply and demand curves intersect at the market equilibrium price.",
    "Newton's second law: force equals mass times acceleration (F = ma).",
    "La photosynthèse a lieu dans les chloroplastes des cellules végétales.",
    "Die Quantenmechanik beschreibt das Verhalten von Teilchen auf atomarer Ebene.",
    "Office hours: Tuesday 3-5 pm, room 204.",
    "Yes.",
    "What is the time complexity of quicksort in the worst case?",
    "Gradient descent updates parameters in the direction of the negative gradient of the loss.",
    "A p-value is the probability of data at least as extreme as observed, assuming the null hypothesis.",
    "Shakespeare wrote Hamlet around 1600; it is his longest play.",
    "The mitochondrial genome is inherited maternally in most animals.",
    "TCP provides reliable, ordered delivery of a byte stream between applications.",
    "Table 3: mean 4.2, sd 1.1, n = 120, 95% CI [4.0, 4.4].",
    " ".join(["Long lecture notes on thermodynamics, entropy, enthalpy and free energy."] * 40),  # truncated
]


def _bf16_here() -> str:
    isa = embeddings.cpu_bf16_isa()
    if isa is None:
        pytest.skip("this CPU has no native bf16 (AMX or AVX512_BF16) to compare with fp32")
    return isa


@pytest.mark.model
def test_bf16_vectors_match_fp32_ones(monkeypatch):
    isa = _bf16_here()
    loaded = []
    monkeypatch.setattr(embeddings, "log_event", lambda event, **fields: loaded.append((event, fields)))
    monkeypatch.setattr(embeddings, "_models", {})  # load both models here, to see the load logged
    fp32 = MiniLMEmbedder(batch_size=16, precision="fp32").embed(VARIED)
    bf16_embedder = MiniLMEmbedder(batch_size=16, precision="bf16")
    bf16 = bf16_embedder.embed(VARIED)
    assert bf16.dtype == np.float32 and bf16.shape == (len(VARIED), 384)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(fp32 * bf16, axis=1)
    assert cosine.min() >= 0.999, f"lowest cosine {cosine.min():.5f} for {VARIED[int(cosine.argmin())]!r}"
    assert not np.array_equal(fp32, bf16)  # the bf16 path really ran
    assert bf16_embedder.precision == f"bf16 ({isa}, set)"
    assert [(e, f["precision"]) for e, f in loaded] == [("embedding_model_loaded", "fp32 (set)"),
                                                        ("embedding_model_loaded", f"bf16 ({isa}, set)")]


@pytest.mark.model
def test_auto_without_bf16_support_runs_the_fp32_model(monkeypatch):
    monkeypatch.setattr(embeddings, "cpu_bf16_isa", lambda: None)
    auto = MiniLMEmbedder(batch_size=16, precision="auto").embed(VARIED[:6])
    assert np.array_equal(auto, MiniLMEmbedder(batch_size=16, precision="fp32").embed(VARIED[:6]))


PASSAGES = [
    "Photosynthesis in plants uses chlorophyll to capture sunlight and make glucose from carbon dioxide and water.",
    "The mitochondrion produces ATP through cellular respiration and the electron transport chain.",
    "DNA replication is semi-conservative: each new double helix keeps one original strand.",
    "Binary search finds an item in a sorted array in logarithmic time by halving the interval.",
    "A hash table maps keys to buckets with a hash function, giving constant average lookup time.",
    "The French Revolution of 1789 abolished feudal privileges and proclaimed the rights of man.",
    "The Treaty of Versailles in 1919 ended the First World War and imposed reparations on Germany.",
    "Inflation is a general rise in prices that reduces the purchasing power of money.",
    "Comparative advantage explains why countries gain from trade even if one is better at everything.",
    "Newton's second law states that force equals mass times acceleration.",
    "Ohm's law relates voltage, current and resistance in an electrical circuit: V = IR.",
    "Entropy of an isolated system never decreases, according to the second law of thermodynamics.",
    "Plate tectonics explains earthquakes and mountain building by the motion of lithospheric plates.",
    "The Pythagorean theorem says the square of the hypotenuse equals the sum of the squares of the legs.",
    "A sonnet is a fourteen-line poem, often in iambic pentameter, with a fixed rhyme scheme.",
    "Vaccines train the immune system by exposing it to a harmless form of an antigen.",
]
QUESTIONS = {  # question → the passage that answers it
    "How do plants make sugar from light?": 0,
    "Where is ATP made in the cell?": 1,
    "How fast is searching a sorted list by halving?": 3,
    "What ended World War One?": 6,
    "Why do nations benefit from trading?": 8,
    "What is the relation between force and acceleration?": 9,
    "What causes earthquakes and mountains?": 12,
    "How many lines does a sonnet have?": 14,
}


@pytest.mark.model
def test_an_index_built_in_one_precision_serves_queries_in_the_other():
    _bf16_here()
    ids = list(range(len(PASSAGES)))
    emb = {p: MiniLMEmbedder(batch_size=16, precision=p) for p in ("fp32", "bf16")}
    indexes = {p: HybridIndex.build(ids, PASSAGES, e.embed(PASSAGES)) for p, e in emb.items()}
    queries = {p: e.embed(list(QUESTIONS)) for p, e in emb.items()}

    def top(index: str, query: str) -> list[list[int]]:
        return [[h.chunk_id for h in indexes[index].search(q, v, k=3, mode="dense")]
                for q, v in zip(QUESTIONS, queries[query])]

    reference = top("fp32", "fp32")
    assert [r[0] for r in reference] == list(QUESTIONS.values())  # the set is real: fp32 finds each answer
    for index, query in itertools.product(("fp32", "bf16"), repeat=2):
        assert top(index, query) == reference, f"index {index}, queries {query}"
