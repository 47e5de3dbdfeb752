import re

import pytest

from core.errors import ValidationError
from core.services import build_services
from core.services.chat import NO_DOCUMENTS, NOT_FOUND
from tests.factories import make_pdf, upload

LECTURE = [
    "Lecture 3: Cell biology. The cell membrane is a lipid bilayer that controls what enters the cell.",
    "Mitochondria produce ATP through cellular respiration. They have their own DNA.",
    "Chloroplasts perform photosynthesis and convert light energy into glucose.",
]


@pytest.fixture
def klass(services, instructor):
    info = services.classes.create(instructor, "Biology")
    assert upload(services, instructor, info.id, "lecture3.pdf", make_pdf(LECTURE)).ok
    return info


def test_answer_cites_document_and_page(services, instructor, klass):
    answer = services.chat.ask(instructor, klass.id, "What do mitochondria produce?")
    assert answer.found
    top = answer.citations[0]
    assert (top.n, top.document, top.page) == (1, "lecture3.pdf", 2)
    assert "ATP" in answer.text
    # the answer is sentences each followed by a citation that exists in the sources
    assert re.fullmatch(r"(?:[^\[\]]+ \[\d+\] ?)+", answer.text), answer.text
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert cited and cited <= {c.n for c in answer.citations}
    assert answer.to_dict()["citations"][0].keys() == {"n", "document", "page", "page_label", "text", "score"}


def test_unrelated_question_says_nothing_was_found(services, instructor, klass):
    answer = services.chat.ask(instructor, klass.id, "Who won the football world cup?")
    assert not answer.found and answer.text == NOT_FOUND and answer.citations == []


def test_class_without_documents_says_so(services, instructor):
    empty = services.classes.create(instructor, "Empty")
    answer = services.chat.ask(instructor, empty.id, "Anything?")
    assert not answer.found and answer.text == NO_DOCUMENTS


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions(services, instructor, klass, question):
    with pytest.raises(ValidationError):
        services.chat.ask(instructor, klass.id, question)


def test_history_is_per_user_and_class(services, instructor, student, klass):
    other = services.classes.create(instructor, "Chemistry")
    assert upload(services, instructor, other.id, "ions.txt", b"Ions are atoms with a net charge.").ok
    for info in (klass, other):
        services.classes.join(student, info.join_code)
    services.chat.ask(instructor, klass.id, "What do chloroplasts do?")
    services.chat.ask(student, klass.id, "What is the cell membrane?")
    services.chat.ask(student, other.id, "What are ions?")
    mine = services.chat.history(student, klass.id)
    assert [m.role for m in mine] == ["user", "assistant"]
    assert mine[0].content == "What is the cell membrane?"
    assert mine[1].citations and mine[1].citations[0].page == 1
    assert [m.content for m in services.chat.history(student, other.id)][0] == "What are ions?"
    assert [m.content for m in services.chat.history(instructor, klass.id)][0] == "What do chloroplasts do?"
    services.chat.clear_history(student, klass.id)
    assert services.chat.history(student, klass.id) == []
    assert len(services.chat.history(student, other.id)) == 2  # the other class's chat stays
    assert len(services.chat.history(instructor, klass.id)) == 2  # and so does everyone else's


def test_latency_is_logged_for_monitoring(services, instructor, klass):
    services.chat.ask(instructor, klass.id, "What do mitochondria produce?")
    stats = services.chat.latency_stats()
    assert stats["queries"] == 1 and stats["p95_ms"] > 0


def test_a_second_instance_never_serves_a_stale_index(settings, instructor, klass):
    """Two service stacks on one database stand for two app processes: the class's
    index_version tells each when its cached index is stale."""
    from core.search.embeddings import FakeEmbedder

    a = build_services(settings, migrate=True, embedder=FakeEmbedder())
    b = build_services(settings, migrate=True, embedder=FakeEmbedder())
    assert not b.chat.ask(instructor, klass.id, "What are ribosomes?").found  # b caches its index now
    res = upload(a, instructor, klass.id, "ribosomes.txt", b"Ribosomes are where proteins are synthesised.")
    assert b.chat.ask(instructor, klass.id, "What are ribosomes?").found
    a.documents.delete(instructor, res.document_id)
    assert not b.chat.ask(instructor, klass.id, "What are ribosomes?").found


def test_headings_are_not_quoted_as_sentences(services, instructor):
    info = services.classes.create(instructor, "Plants")
    page = "The Calvin cycle\n\nThe Calvin cycle takes place in the stroma of the chloroplast. It fixes carbon dioxide."
    assert upload(services, instructor, info.id, "plants.pdf", make_pdf([page])).ok
    answer = services.chat.ask(instructor, info.id, "Where does the Calvin cycle take place?")
    assert answer.found
    assert answer.text.startswith("The Calvin cycle takes place in the stroma")


@pytest.mark.model
def test_real_model_end_to_end(tmp_path):
    """The packaged all-MiniLM-L6-v2, offline: ingest a PDF, ask, get the right page cited;
    an unrelated question is recognised as such by the real relevance threshold."""
    from core.config import Settings
    from core.services.actors import SYSTEM

    svc = build_services(Settings(data_dir=tmp_path, embedder="minilm"), migrate=True)
    klass = svc.classes.create(SYSTEM, "Biology")
    assert upload(svc, SYSTEM, klass.id, "lecture3.pdf", make_pdf(LECTURE)).ok
    answer = svc.chat.ask(SYSTEM, klass.id, "Which organelle produces ATP?")
    assert answer.found and answer.citations[0].page == 2 and "ATP" in answer.text
    assert not svc.chat.ask(SYSTEM, klass.id, "Who won the 1998 football world cup final?").found
