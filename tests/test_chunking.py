import pytest

from core.ingest.chunking import Passage, chunk_pages
from core.ingest.formats import Page


def sentences(n, prefix="S", words=10):
    """n sentences of exactly `words` words each, tagged so their order can be checked."""
    return " ".join(" ".join([f"{prefix}{i}"] + ["word"] * (words - 2) + ["end."]) for i in range(n))


def test_each_page_becomes_its_own_chunk_with_its_number():
    chunks = chunk_pages([Page(1, "Intro to deep learning."), Page(2, "Convolutions share weights.")])
    assert chunks == [Passage(0, 1, "Intro to deep learning."), Passage(1, 2, "Convolutions share weights.")]


def test_every_passage_carries_its_page_label():
    pages = [Page(1, "Preface text.", "iv"), Page(2, sentences(30), "1"), Page(3, "No label declared.")]
    chunks = chunk_pages(pages, chunk_words=100, overlap_words=20)
    assert len(chunks) > 3  # the long page makes several passages, each with its page's label
    assert [(c.page, c.page_label) for c in chunks] == (
        [(1, "iv")] + [(2, "1")] * (len(chunks) - 2) + [(3, None)])


def test_blank_pages_make_no_chunk_but_tiny_pages_do():
    chunks = chunk_pages([Page(1, "Title"), Page(2, ""), Page(3, "  \n "), Page(4, "Thanks!")])
    assert [(c.ordinal, c.page, c.text) for c in chunks] == [(0, 1, "Title"), (1, 4, "Thanks!")]


def test_long_page_splits_at_sentences_with_overlap():
    text = sentences(50)  # 500 words
    chunks = chunk_pages([Page(7, text)], chunk_words=100, overlap_words=20)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.page == 7
        assert len(chunk.text.split()) <= 100
        assert chunk.text.endswith("end.")  # cut at a sentence end
    for before, after in zip(chunks, chunks[1:]):
        # the next chunk starts with the last two sentences (20 words) of the one before
        assert after.text.split()[:20] == before.text.split()[-20:]
    covered = " ".join(c.text for c in chunks)
    assert all(f"S{i} " in covered for i in range(50))


def test_no_overlap_when_asked():
    chunks = chunk_pages([Page(1, sentences(30))], chunk_words=100, overlap_words=0)
    assert [len(c.text.split()) for c in chunks] == [100, 100, 100]


def test_chunks_never_span_pages():
    pages = [Page(n, sentences(23, prefix=f"P{n}x")) for n in range(1, 6)]
    chunks = chunk_pages(pages, chunk_words=60, overlap_words=15)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert all(w.startswith(f"P{chunk.page}x") for w in chunk.text.split() if w.startswith("P"))
    assert {c.page for c in chunks} == {1, 2, 3, 4, 5}


def test_sentence_longer_than_a_chunk_is_cut_by_words():
    text = " ".join(f"w{i}" for i in range(250))  # no punctuation at all
    chunks = chunk_pages([Page(1, text)], chunk_words=100, overlap_words=10)
    assert all(len(c.text.split()) <= 100 for c in chunks)
    words = [w for c in chunks for w in c.text.split()]
    assert set(words) == {f"w{i}" for i in range(250)}
    assert chunks[1].text.split()[0] == "w80"  # ten words of overlap with the first chunk
    assert chunks[0].text.split()[-1] == "w89"


def test_text_file_prefers_paragraph_boundaries():
    para = lambda tag: " ".join([f"{tag}."] + [f"{tag} has exactly ten words in this one short sentence."] * 4)  # noqa: E731
    text = "\n\n".join(para(t) for t in ["Alpha", "Beta", "Gamma", "Delta"])  # 41 words each
    chunks = chunk_pages([Page(None, text)], chunk_words=100, overlap_words=20)
    assert [c.page for c in chunks] == [None, None]
    assert chunks[0].text.startswith("Alpha.") and chunks[0].text.endswith("Beta has exactly ten words in this one short sentence.")
    assert chunks[1].text.startswith("Gamma.")  # a clean paragraph cut: no overlap needed
    assert "\n\n" in chunks[0].text  # paragraph break preserved


def test_no_words_are_lost_when_a_paragraph_moves_to_the_next_chunk():
    a = sentences(5, prefix="A", words=11)  # 55 words
    b = sentences(4, prefix="B")  # 40 words
    c = sentences(1, prefix="C", words=70)
    chunks = chunk_pages([Page(None, f"{a}\n\n{b}\n\n{c}")], chunk_words=100, overlap_words=20)
    assert [c.text.split()[0] for c in chunks] == ["A0", "B0", "C0"]
    words = [w for c in chunks for w in c.text.split()]
    assert len(words) == 55 + 40 + 70


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        chunk_pages([Page(1, "x")], chunk_words=10, overlap_words=10)
    with pytest.raises(ValueError):
        chunk_pages([Page(1, "x")], chunk_words=0, overlap_words=0)


def test_a_thousand_dense_pages_each_stay_on_their_page():
    # (its speed is measured by `python -m core bench ingest`, not timed in a test)
    pages = [Page(n, sentences(40) + "\n• a bullet\n• another bullet") for n in range(1, 1001)]  # 1000 dense pages
    chunks = chunk_pages(pages)
    assert len(chunks) >= 3000
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == set(range(1, 1001))  # every page, and only pages that exist
