"""Verification of a generated answer's citations: the rules on the fast fake embedder, the answer
as the chat gets it (the stand-in server over real HTTP, then verify), and the real model."""
from __future__ import annotations

import pytest

from core.answers.generate import make_writer
from core.answers.model import Citation
from core.answers.verify import Verified, verify_citations
from core.config import Settings
from core.search.embeddings import FakeEmbedder, make_embedder
from tests.llm_stub import LLMStub, Reply

SOURCES = [
    Citation(1, 7, "lecture3.pdf", 2, "Mitochondria are the powerhouse of the cell. They produce ATP through cellular "
             "respiration. The inner membrane is folded into cristae, which increase its surface area.", 0.6),
    Citation(2, 7, "lecture3.pdf", 5, "Photosynthesis takes place in the chloroplasts. The Calvin cycle takes place "
             "in the stroma and fixes carbon dioxide into sugars. The light reactions need four photons per oxygen "
             "atom, and 1,000 of them make a visible difference.", 0.5),
]
FAKE = FakeEmbedder()


def check(text: str, sources=SOURCES, embedder=FAKE) -> Verified:
    return verify_citations(text, sources, embedder)


def test_supported_sentences_keep_their_citations_and_nothing_is_noticed():
    v = check("The Calvin cycle takes place in the stroma [2]. Mitochondria produce ATP through cellular respiration [1].")
    assert v.text == ("The Calvin cycle takes place in the stroma. [2] "
                      "Mitochondria produce ATP through cellular respiration. [1]")
    assert v.cited == [2, 1] and (v.removed, v.repointed, v.unknown, v.added) == (0, 0, 0, 0)
    assert v.notice is None and not v.not_covered


def test_fabricated_sentence_is_removed_with_a_notice():
    v = check("Mitochondria produce ATP through cellular respiration [1]. "
              "Mitochondria were first described by Richard Altmann, who called them bioblasts [1].")
    assert v.text == "Mitochondria produce ATP through cellular respiration. [1]"
    assert v.removed == 1 and v.notice == "1 sentence no source supports was removed."


def test_wrong_citation_is_moved_to_the_supporting_source():
    v = check("The Calvin cycle takes place in the stroma and fixes carbon dioxide [1].")
    assert v.text == "The Calvin cycle takes place in the stroma and fixes carbon dioxide. [2]"
    assert v.repointed == 1 and v.cited == [2] and "moved to the source" in v.notice


def test_one_wrong_of_two_citations_is_dropped():
    v = check("Mitochondria produce ATP through cellular respiration [1, 2].")
    assert v.text.endswith("respiration. [1]") and v.repointed == 1


def test_nonexistent_citation_is_removed():
    v = check("Mitochondria produce ATP through cellular respiration [9].")
    assert v.text == "Mitochondria produce ATP through cellular respiration. [1]"
    assert v.unknown == 1 and "does not exist" in v.notice
    v = check("Mitochondria produce ATP through cellular respiration [1][9].")
    assert v.text.endswith("[1]") and v.unknown == 1 and v.repointed == 0


def test_uncited_sentence_gets_the_supporting_source_or_goes():
    v = check("Mitochondria produce ATP through cellular respiration. Cristae are made of gold and silver atoms.")
    assert v.text == "Mitochondria produce ATP through cellular respiration. [1]"
    assert v.added == 1 and v.removed == 1 and v.notice == \
        "1 sentence no source supports was removed; 1 missing citation was added."


def test_a_figure_no_cited_source_states_does_not_survive():
    v = check("The Calvin cycle takes place in the stroma in 3 steps [2]. The light reactions need 7 photons [2].")
    assert v.text == "" and v.removed == 2
    # written out in the source ("four"), or with a thousands separator: the same figure
    v = check("The light reactions need 4 photons per oxygen atom, and 1000 of them make a difference [2].")
    assert v.text.endswith("[2]") and v.removed == 0


def test_citation_forms_and_placement():
    v = check("Mitochondria produce ATP. [1] The Calvin cycle takes place in the stroma [1][2]. "
              "Photosynthesis takes place in the chloroplasts [source 2].")
    assert v.text == ("Mitochondria produce ATP. [1] The Calvin cycle takes place in the stroma. [2] "
                      "Photosynthesis takes place in the chloroplasts. [2]")
    assert check("The Calvin cycle fixes carbon dioxide into sugars [1-2].").cited == [2]


def test_nothing_supported_means_empty_text_for_the_extractive_fallback():
    v = check("In short: Ribosomes translate messenger RNA into proteins [1].")
    assert v.text == "" and v.cited == [] and v.removed == 1


def test_not_covered_marker():
    v = check("NOT_COVERED The course material does not cover the Krebs cycle [1].")
    assert v.not_covered and v.text == "The course material does not cover the Krebs cycle." and v.cited == []
    assert check("**NOT_COVERED**: Le cours n'en parle pas.").text == "Le cours n'en parle pas."
    assert check("NOT_COVERED").text == ""


def test_structure_connectives_and_a_cut_off_ending():
    text = ("In short:\n\n"
            "- Mitochondria produce ATP through cellular respiration [1].\n"
            "- The Calvin cycle takes place in the stroma [2].\n\n"
            "1. Photosynthesis takes place in the chloroplasts [2].\n\n"
            "The inner membrane is folded into")  # max_tokens reached mid-sentence
    v = check(text)
    assert v.text == ("In short:\n\n- Mitochondria produce ATP through cellular respiration. [1]\n"
                      "- The Calvin cycle takes place in the stroma. [2]\n\n"
                      "1. Photosynthesis takes place in the chloroplasts. [2]")  # "1." is a list number, no figure
    assert v.removed == 0 and v.notice is None  # the cut-off fragment goes unremarked


def test_a_dropped_paragraph_keeps_the_break_before_the_next():
    v = check("Mitochondria produce ATP [1].\n\nGold is yellow and shiny [1]. The Calvin cycle takes place in the stroma [2].")
    assert v.text == "Mitochondria produce ATP. [1]\n\nThe Calvin cycle takes place in the stroma. [2]"


# ---- as the chat gets it: streamed from a server over real HTTP, then verified ------------------------
@pytest.fixture
def writer():
    with LLMStub() as stub:
        settings = Settings(llm_base_url=stub.base_url, llm_model="stub-model", llm_api_key="sk-t",
                            llm_timeout_s=2, llm_max_retries=0)
        yield stub, make_writer(settings)


def test_streamed_answer_with_a_fabrication_a_wrong_number_and_a_missing_source(writer):
    stub, llm = writer
    stub.script(Reply.stream("Mitochondria produce ATP through cellular respiration [2]. "
                             "They make 38 ATP per glucose molecule [1]. "
                             "The Calvin cycle takes place in the stroma [9]."))
    full = "".join(llm.stream("What do mitochondria and the Calvin cycle do?", SOURCES))
    v = verify_citations(full, SOURCES, FAKE)
    assert v.text == ("Mitochondria produce ATP through cellular respiration. [1] "
                      "The Calvin cycle takes place in the stroma. [2]")
    assert (v.removed, v.repointed, v.unknown) == (1, 1, 1) and v.cited == [1, 2]
    assert v.notice == ("1 sentence no source supports was removed; 1 citation was moved to the source that "
                        "supports its sentence; 1 citation of a source that does not exist was removed.")


def test_streamed_not_covered_reply(writer):
    stub, llm = writer
    stub.script(Reply.stream("NOT_COVERED Le cours ne traite pas de cette question."))
    v = verify_citations("".join(llm.stream("Qui a gagné la coupe du monde 1998 ?", SOURCES)), SOURCES, FAKE)
    assert v.not_covered and v.text == "Le cours ne traite pas de cette question."


# ---- the real model ---------------------------------------------------------------------------------
@pytest.mark.model
def test_real_model_keeps_paraphrases_and_drops_fabrications():
    """all-MiniLM-L6-v2: reworded sentences survive, plausible unsupported ones do not, and a French
    answer is checked against French material as well as an English one against English."""
    model = make_embedder("minilm")
    v = verify_citations(
        "ATP is made in the mitochondria by cellular respiration [2]. "
        "The folds of the inner membrane, called cristae, enlarge its surface [1]. "
        "This DNA is inherited only from the mother [1]. "
        "Carbon dioxide is turned into sugars by the Calvin cycle, which runs in the stroma [2]. "
        "The Krebs cycle happens in the mitochondrial matrix [1].", SOURCES, model)
    assert v.text == ("ATP is made in the mitochondria by cellular respiration. [1] "
                      "The folds of the inner membrane, called cristae, enlarge its surface. [1] "
                      "Carbon dioxide is turned into sugars by the Calvin cycle, which runs in the stroma. [2]")
    assert (v.removed, v.repointed) == (2, 1)

    french = [Citation(1, 8, "cours.pdf", 3, "Les mitochondries produisent l'ATP par la respiration cellulaire. "
                       "La membrane interne forme des replis, les crêtes, qui augmentent sa surface.", 0.5)]
    v = verify_citations("L'ATP est produit dans les mitochondries grâce à la respiration cellulaire [1]. "
                         "Les mitochondries possèdent leur propre ADN, transmis par la mère [1].", french, model)
    assert v.text == "L'ATP est produit dans les mitochondries grâce à la respiration cellulaire. [1]"
    assert v.removed == 1
