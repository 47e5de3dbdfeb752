"""ORM mapping of the schema. The schema itself changes only through Alembic (db/versions);
tests/test_migrations.py checks that this mapping and the migrations agree."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """DateTime(timezone=True) that always hands back aware UTC datetimes. SQLite keeps no zone
    and returns naive values while PostgreSQL returns aware ones; callers never see the difference."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        return value.astimezone(timezone.utc) if value is not None and value.tzinfo is not None else value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Class(Base):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    index_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # revision 2 (accounts): nullable so classes made before accounts keep working
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    join_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    # revision 5 (security): made before accounts existed, so readable by every signed-in user
    # while it has no instructor; never set by the app, only by that migration
    pre_accounts: Mapped[bool] = mapped_column(Boolean, default=False)

    documents: Mapped[list[Document]] = relationship(back_populates="klass", passive_deletes=True)


class Enrollment(Base):
    __tablename__ = "enrollments"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # instructor | student
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("class_id", "sha256", name="uq_documents_class_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | ready | failed
    error: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # revision 2 (accounts)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # revision 3 (cloud storage): which file store holds storage_key
    storage_backend: Mapped[str] = mapped_column(String(16), default="local")
    # revision 7 (visibility): hidden from students always, or until release_at (None: released);
    # the rule is core/services/visibility.py
    instructors_only: Mapped[bool] = mapped_column(Boolean, default=False)
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    klass: Mapped[Class] = relationship(back_populates="documents")


class Chunk(Base):
    __tablename__ = "chunks"
    # revision 10: a job retried after a crash can never add a document's chunks twice
    __table_args__ = (UniqueConstraint("document_id", "ordinal", name="uq_chunks_document_ordinal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)  # None for text files, which have no pages
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, L2-normalised
    # revision 6: the page number the PDF declares ("xii", "51"); None when it declares none
    page_label: Mapped[str | None] = mapped_column(String(32))


class IngestJob(Base):
    """One uploaded file's way from stored original to indexed chunks (revision 10). The row is
    the truth the Documents page, `python -m core jobs` and `ingest`'s wait read; the queue
    (core/jobs) only says when a worker should take it. States: queued, working, ready, failed,
    cancelled (its document was deleted before it was processed); docs/jobs.md."""

    __tablename__ = "ingest_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    include_notes: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(200), default="")  # "embedding 96/310 passages"
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IngestFailure(Base):
    """A failed upload leaves no document behind; this keeps the reason for the instructor."""

    __tablename__ = "ingest_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # revision 2 (accounts)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    citations: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # revision 6: how an assistant message was made (found, generated, model, notice, related)
    details: Mapped[dict | None] = mapped_column(JSON)


class QueryLog(Base):
    """One row per answered question: the admin status page's latency percentiles, the instructor's insights."""

    __tablename__ = "query_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int | None] = mapped_column(Integer, index=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    n_sources: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    found: Mapped[bool | None] = mapped_column(Boolean)  # revision 6: the material covered the question
    # revision 8, instructor insights (docs/insights.md): the question, kept apart from the asker's
    # chat history; the asker, named only on an explicit open; the answer (to join votes); coverage.
    question: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"))
    score: Mapped[float | None] = mapped_column(Float)
    weak: Mapped[bool | None] = mapped_column(Boolean)
    sources: Mapped[list | None] = mapped_column(JSON)  # [{document_id, document, page, page_label}]


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its HMAC (revision 5)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ThrottleEntry(Base):
    """Failed attempts under one key (an account, a client address, a pair), with growing delays."""

    __tablename__ = "throttle"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnswerFeedback(Base):
    """A student's thumbs up/down on one answer (revision 6). The question, answer and sources
    are copied, so the record outlives a cleared chat history; one vote per answer and user."""

    __tablename__ = "answer_feedback"
    __table_args__ = (UniqueConstraint("message_id", "user_id", name="uq_answer_feedback_message_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"))
    helpful: Mapped[bool] = mapped_column(Boolean)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    sources: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GoldQuestion(Base):
    """An instructor's checked question: the pages that should answer it (revision 9;
    docs/gold-questions.md). The document's name is copied so a deleted document is still named."""

    __tablename__ = "gold_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    document_name: Mapped[str] = mapped_column(String(255))
    pages: Mapped[list] = mapped_column(JSON)  # 1-based page indexes; [] accepts any page of the document
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GoldResult(Base):
    """The latest run of one gold question (revision 9)."""

    __tablename__ = "gold_results"

    question_id: Mapped[int] = mapped_column(ForeignKey("gold_questions.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # first | top5 | missed
    previous_status: Mapped[str | None] = mapped_column(String(8))
    cited: Mapped[list | None] = mapped_column(JSON)  # the first citations: document_id, document, page, page_label
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never cited first or in the top 5
