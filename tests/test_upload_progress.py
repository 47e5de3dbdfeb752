"""An upload's progress moves while it embeds; files it cannot read are explained before they are
sent, in the server's own words; the document list names its uploader."""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from sqlalchemy import select, update

from core.models import Chunk, IngestJob, User
from core.search.embeddings import FakeEmbedder
from core.services.ingestion import EMBED_GROUP, STAGES
from tests.factories import upload

# ~300 passages: three sentences a "paragraph", chunked at ~180 words
LONG_TEXT = "\n\n".join(f"Paragraph {i}: diffusion moves solute {i} down its gradient. Osmosis moves water across "
                        f"a membrane {i}. Active transport spends ATP to pump ion {i} against its gradient."
                        for i in range(2000)).encode()


@pytest.fixture
def klass(services, instructor):
    return services.classes.create(instructor, "Biology")


def _upload(services, actor, klass, monkeypatch, fail_at_call: int | None = None):
    """Upload LONG_TEXT and read its job's row as the Documents page does: (stage, progress) each time
    the job hands the embedder a group (the row then holds the step reported just before), and at
    the end. With fail_at_call, that call of the embedder fails."""
    real_embed, seen = FakeEmbedder.embed, []

    def embed_and_look(self, texts):
        with services.db.transaction() as s:
            seen.append(tuple(s.execute(select(IngestJob.stage, IngestJob.progress)).one()))
        if len(seen) == fail_at_call:
            raise MemoryError("out of memory")
        return real_embed(self, texts)

    monkeypatch.setattr(FakeEmbedder, "embed", embed_and_look)
    result = upload(services, actor, klass.id, "long.txt", LONG_TEXT)
    [job] = services.ingestion.for_class(actor, klass.id)
    return result, seen + [(job.stage, job.progress)]


def test_progress_moves_while_embedding_and_ends_ready(services, instructor, klass, monkeypatch):
    result, stages = _upload(services, instructor, klass, monkeypatch)
    assert result.ok and 250 <= result.chunks <= 400, result.chunks
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and stages[-1] == ("ready", 1.0)
    assert all(s.split()[0] in STAGES for s, _ in stages)
    embedding = [(s, f) for s, f in stages if s.startswith("embedding")]
    # a report before each group: the bar moves every EMBED_GROUP passages
    assert len(embedding) == len({f for _, f in embedding}) == -(-result.chunks // EMBED_GROUP) >= 8
    assert embedding[0] == (f"embedding 0/{result.chunks} passages", 0.1)
    assert embedding[1][0] == f"embedding {EMBED_GROUP}/{result.chunks} passages"
    assert embedding[-1][0] == f"embedding {EMBED_GROUP * (len(embedding) - 1)}/{result.chunks} passages"
    steps = [b - a for (_, a), (_, b) in pairwise(embedding)]
    assert max(steps) <= 0.85 * EMBED_GROUP / result.chunks + 1e-9  # no jump bigger than one group
    # embedded longest first, in groups: every chunk still gets its own vector
    with services.db.transaction() as s:
        rows = s.execute(select(Chunk.text, Chunk.embedding).where(Chunk.document_id == result.document_id)
                         .order_by(Chunk.ordinal)).all()
    monkeypatch.undo()
    expected = FakeEmbedder().embed([text for text, _ in rows])
    assert np.array_equal(np.vstack([np.frombuffer(e, dtype=np.float32) for _, e in rows]), expected)


def test_a_failure_while_embedding_ends_failed_with_the_reason(services, instructor, klass, monkeypatch):
    result, stages = _upload(services, instructor, klass, monkeypatch, fail_at_call=3)
    assert not result.ok and "long.txt: processing failed (MemoryError); nothing was saved." == result.error
    embedded = [s for s, _ in stages if s.startswith("embedding")]
    assert embedded[-1] == f"embedding {2 * EMBED_GROUP}/{embedded[0].split('/')[1]}"  # it had moved on
    assert stages[-1] == ("failed", 1.0)
    assert services.documents.list(instructor, klass.id) == []
    assert [f.error for f in services.documents.failures(instructor, klass.id)] == [result.error]


@pytest.mark.parametrize("name, size, says", [
    ("week1.ppt", 1000, ("'week1.ppt' is an old PowerPoint format (.ppt); ClassGPT reads .pptx files. Open it in "
                        "PowerPoint, save it as .pptx (File > Save As), and upload again.")),
    ("essay.doc", 1000, "'essay.doc' is an old Word format (.doc); ClassGPT reads .docx files."),
    ("grades.xlsx", 1000, ("'grades.xlsx' is a spreadsheet (.xlsx), which ClassGPT cannot read. Save or export it "
                          "as a PDF")),
    ("scan.JPG", 1000, "'scan.JPG' is an image (.jpg), which ClassGPT cannot read. ClassGPT answers from text"),
    ("slides.key", 1000, ("'slides.key' is a presentation in another format (.key), which ClassGPT cannot read. "
                          "Export it as PowerPoint (.pptx) or PDF")),
    ("Makefile", 1000, "'Makefile' is a file without an extension, which ClassGPT cannot read. Supported types:"),
    ("big.pdf", 3 * 1024 * 1024, "'big.pdf' is 3.0 MB, over the 2 MB upload limit. Split it or compress it"),
    ("empty.txt", 0, "'empty.txt' is empty (0 bytes)."),
])
def test_unsupported_files_are_explained_by_name_and_size(services, instructor, klass, name, size, says):
    services.settings.max_upload_mb = 2
    reason = services.ingestion.unsupported_reason(name, size)
    assert reason is not None and reason.startswith(says), reason
    # one source of truth: submit() refuses the same file with the same sentence
    data = b"" if size == 0 else b"x" * size
    result = upload(services, instructor, klass.id, name, data)
    assert not result.ok and result.error == reason


@pytest.mark.parametrize("name", ["notes.pdf", "deck.PPTX", "report.docx", "a.txt", "b.md", "c.markdown"])
def test_supported_files_pass_the_check(services, name):
    assert services.ingestion.unsupported_reason(name, 1000) is None
    assert services.ingestion.unsupported_reason(f"C:\\Users\\me\\{name}", 1000) is None  # a browser's path


def test_the_list_names_the_uploader_not_their_address(services, instructor, student, klass):
    services.classes.join(student, klass.join_code)
    upload(services, instructor, klass.id, "a.txt", b"Osmosis moves water.")
    assert [d.uploaded_by for d in services.documents.list(student, klass.id)] == ["Prof"]
    with services.db.transaction() as s:  # an account without a name (made before names were asked)
        s.execute(update(User).where(User.id == instructor.user_id).values(name="  "))
    assert [d.uploaded_by for d in services.documents.list(student, klass.id)] == ["prof"]
