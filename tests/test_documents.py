import pytest
from sqlalchemy import func, select

from core.errors import NotFound, PermissionDenied, StorageUnavailable
from core.models import Chunk, Document, IngestFailure
from tests.factories import corrupt_pdf, make_encrypted_pdf, make_image_only_pdf, make_pdf, upload


@pytest.fixture
def klass(services, instructor):
    return services.classes.create(instructor, "Biology")


def _counts(services):
    with services.db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(Document)),
                s.scalar(select(func.count()).select_from(Chunk)),
                len(services.store.list_keys()))


def test_pdf_ingest_keeps_page_numbers_and_reports_progress(services, instructor, klass):
    pdf = make_pdf(["Cells are the unit of life.", "", "Mitochondria produce ATP by respiration."])
    seen = []
    submitted = services.ingestion.submit(instructor, klass.id, "bio.pdf", pdf)
    res = services.ingestion.wait_for(submitted, lambda job: seen.append((job.state, job.progress)))
    assert res.ok and res.pages == 3 and res.chunks == 2 and not res.deduplicated
    with services.db.transaction() as s:
        pages = s.scalars(select(Chunk.page).where(Chunk.document_id == res.document_id).order_by(Chunk.ordinal)).all()
    assert pages == [1, 3]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and seen[-1] == ("ready", 1.0)
    [doc] = services.documents.list(instructor, klass.id)
    assert (doc.filename, doc.status, doc.page_count, doc.uploaded_by) == ("bio.pdf", "ready", 3, "Prof")
    assert doc.size_bytes == len(pdf)


def test_text_and_markdown(services, instructor, klass):
    md = b"# Genetics\n\nDNA is a double helix.\n\n## RNA\n\nRNA is single stranded.\n"
    assert upload(services, instructor, klass.id, "notes.md", md).ok
    assert upload(services, instructor, klass.id, "notes.txt",
                                     "Café enzymes — biological catalysts speed reactions.".encode("cp1252")).ok
    answer = services.chat.ask(instructor, klass.id, "What is DNA?")
    assert answer.found and answer.citations[0].document == "notes.md" and answer.citations[0].page is None
    answer = services.chat.ask(instructor, klass.id, "What do enzymes speed?")
    assert answer.citations[0].document == "notes.txt" and "Café enzymes —" in answer.citations[0].text


def test_identical_bytes_are_not_duplicated(services, instructor, klass):
    pdf = make_pdf(["Photosynthesis happens in chloroplasts."])
    first = upload(services, instructor, klass.id, "a.pdf", pdf)
    again = upload(services, instructor, klass.id, "copy-of-a.pdf", pdf)
    assert again.ok and again.deduplicated and again.document_id == first.document_id
    assert _counts(services) == (1, 1, 1)
    other = services.classes.create(instructor, "Other class")
    assert not upload(services, instructor, other.id, "a.pdf", pdf).deduplicated


@pytest.mark.parametrize("filename, data, message", [
    ("empty.pdf", b"", "empty"),
    ("slides.pptx", b"PK\x03\x04 not supported", "cannot read"),
    ("locked.pdf", make_encrypted_pdf(["secret notes"]), "password"),
    ("broken.pdf", corrupt_pdf(), "damaged"),
    ("scan.pdf", make_image_only_pdf(2), "looks like a scan"),
])
def test_bad_input_gets_a_specific_message_and_stores_nothing(services, instructor, klass, filename, data, message):
    res = upload(services, instructor, klass.id, filename, data)
    assert res.status == "failed" and message in res.error.lower() and filename in res.error
    assert _counts(services) == (0, 0, 0)
    [failure] = services.documents.failures(instructor, klass.id)
    assert failure.filename == filename and failure.error == res.error


def test_too_many_pages_or_too_much_text_is_refused_and_stores_nothing(services, instructor, klass):
    services.settings.max_pages_per_document = 2
    res = upload(services, instructor, klass.id, "book.pdf", make_pdf(["One.", "Two.", "Three."]))
    assert res.status == "failed" and "has 3 pages" in res.error and "at most 2 pages" in res.error
    services.settings.max_text_chars = 1000
    res = upload(services, instructor, klass.id, "long.txt", b"word " * 400)
    assert res.status == "failed" and "1,999 characters" in res.error and "at most 1,000" in res.error
    assert _counts(services) == (0, 0, 0)


def test_over_the_size_limit(services, instructor, klass):
    services.settings.max_upload_mb = 0.001
    res = upload(services, instructor, klass.id, "big.txt", b"word " * 1000)
    assert res.status == "failed" and "MB" in res.error
    assert _counts(services) == (0, 0, 0)


class _Boom(Exception):
    pass


def test_store_failure_leaves_nothing(services, instructor, klass, monkeypatch):
    def down(*a, **k):
        raise StorageUnavailable("storage unavailable, nothing was saved: test")
    monkeypatch.setattr(services.store, "put", down)
    res = upload(services, instructor, klass.id, "a.pdf", make_pdf(["Some text about cells."]))
    assert res.status == "failed" and "storage unavailable" in res.error
    assert _counts(services) == (0, 0, 0)


def test_embedding_failure_removes_row_and_stored_file(services, instructor, klass, monkeypatch):
    embedder = services.embedder
    monkeypatch.setattr(embedder, "embed", lambda texts: (_ for _ in ()).throw(_Boom("model crashed")))
    res = upload(services, instructor, klass.id, "a.pdf", make_pdf(["Some text about cells."]))
    assert res.status == "failed" and "nothing was saved" in res.error
    assert _counts(services) == (0, 0, 0)


def test_database_failure_at_the_chunk_step_removes_the_object(services, instructor, klass, monkeypatch):
    from sqlalchemy import event

    def refuse_chunks(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO CHUNKS"):
            raise _Boom("disk full")
    event.listen(services.db.engine, "before_cursor_execute", refuse_chunks)
    try:
        res = upload(services, instructor, klass.id, "a.pdf", make_pdf(["Some text about cells."]))
    finally:
        event.remove(services.db.engine, "before_cursor_execute", refuse_chunks)
    assert res.status == "failed"
    assert _counts(services) == (0, 0, 0)
    # and the class still works afterwards
    assert upload(services, instructor, klass.id, "a.pdf", make_pdf(["Some text about cells."])).ok


def test_download_and_delete(services, instructor, student, klass):
    pdf = make_pdf(["Enzymes are biological catalysts."])
    res = upload(services, instructor, klass.id, "enzymes.pdf", pdf)
    services.classes.join(student, klass.join_code)
    assert services.documents.download(student, res.document_id) == ("enzymes.pdf", "application/pdf", pdf)
    assert services.chat.ask(student, klass.id, "What are enzymes?").found
    with pytest.raises(PermissionDenied):
        services.documents.delete(student, res.document_id)
    services.documents.delete(instructor, res.document_id)
    assert _counts(services) == (0, 0, 0)
    assert not services.chat.ask(student, klass.id, "What are enzymes?").found
    with pytest.raises(NotFound):
        services.documents.download(instructor, res.document_id)


def test_filenames_never_reach_storage_keys(services, instructor, klass):
    res = upload(services, instructor, klass.id, "../../etc/passwd.txt", b"harmless words here")
    assert res.ok and res.filename == "passwd.txt"
    assert services.store.list_keys() == [f"classes/{klass.id}/documents/{res.document_id}"]


def test_failures_are_recorded_per_class(services, instructor, klass):
    other = services.classes.create(instructor, "Chemistry")
    upload(services, instructor, klass.id, "x.xyz", b"data")
    upload(services, instructor, other.id, "y.xyz", b"data")
    upload(services, instructor, other.id, "z.xyz", b"data")
    assert [f.filename for f in services.documents.failures(instructor, klass.id)] == ["x.xyz"]
    assert [f.filename for f in services.documents.failures(instructor, other.id)] == ["z.xyz", "y.xyz"]
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(IngestFailure)) == 3


def test_a_row_abandoned_in_processing_does_not_block_a_new_upload(services, instructor, klass):
    """A process that died mid-ingest leaves a `processing` row; the same file uploaded again
    later replaces it instead of being reported as a duplicate forever."""
    import hashlib
    from datetime import datetime, timedelta, timezone

    from core.services.ingestion.service import STALE_PROCESSING

    pdf = make_pdf(["Ribosomes synthesise proteins."])
    with services.db.transaction() as s:
        s.add(Document(class_id=klass.id, filename="a.pdf", content_type="application/pdf", size_bytes=len(pdf),
                       sha256=hashlib.sha256(pdf).hexdigest(), storage_key="", status="processing",
                       created_at=datetime.now(timezone.utc) - STALE_PROCESSING - timedelta(minutes=1)))
    res = upload(services, instructor, klass.id, "a.pdf", pdf)
    assert res.ok and not res.deduplicated
    assert [d.status for d in services.documents.list(instructor, klass.id)] == ["ready"]


def test_a_recent_processing_row_is_reported_not_replaced(services, instructor, klass):
    import hashlib

    pdf = make_pdf(["Ribosomes synthesise proteins."])
    with services.db.transaction() as s:
        s.add(Document(class_id=klass.id, filename="a.pdf", content_type="application/pdf", size_bytes=len(pdf),
                       sha256=hashlib.sha256(pdf).hexdigest(), storage_key="", status="processing"))
    res = upload(services, instructor, klass.id, "a.pdf", pdf)
    assert res.deduplicated and res.status == "processing" and "being processed" in res.error


def test_filenames_lose_control_and_direction_characters(services, instructor, klass):
    res = upload(services, instructor, klass.id, "\u202egnp.txt\r\n", b"harmless words here")
    assert res.ok and res.filename == "gnp.txt"
    [doc] = services.documents.list(instructor, klass.id)
    assert doc.filename == "gnp.txt"


def test_a_huge_text_file_is_refused_before_it_is_decoded(services, instructor, klass):
    services.settings.max_text_chars = 1000
    res = upload(services, instructor, klass.id, "big.txt", b"a" * 4001)
    assert res.status == "failed" and "too much text" in res.error and "at most 1,000" in res.error


def test_page_previews_check_access_every_time_and_forget_deleted_documents(services, instructor, student, klass):
    pdf = make_pdf(["Cells are the unit of life.", "Mitochondria make ATP."])
    res = upload(services, instructor, klass.id, "cells.pdf", pdf)
    services.classes.join(student, klass.join_code)
    assert services.documents.page_preview(student, res.document_id, 1, 200).startswith(b"\x89PNG")
    outsider = services.accounts.register("out@example.edu", "correct-horse-9").actor()
    with pytest.raises(PermissionDenied):
        services.documents.page_preview(outsider, res.document_id, 1, 200)  # cached, and still refused
    services.documents.delete(instructor, res.document_id)
    with pytest.raises(NotFound):
        services.documents.page_preview(student, res.document_id, 1, 200)
