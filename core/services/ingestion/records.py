"""What ingestion hands out: a job as its row says, an upload as submit() left it, and its outcome."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import IngestJob

# A job's stage starts with one of these words; the rest is for people ("embedding 96/310 passages").
STAGES = ("queued", "checking", "extracting", "saving", "embedding", "indexing", "ready", "failed")
ACTIVE = ("queued", "working")


@dataclass(frozen=True)
class JobInfo:
    id: int
    class_id: int
    document_id: int | None
    filename: str
    size_bytes: int
    state: str  # queued | working | ready | failed | cancelled
    stage: str
    progress: float
    attempts: int
    error: str | None
    pages: int
    chunks: int
    worker: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @classmethod
    def of(cls, row: IngestJob) -> "JobInfo":
        return cls(row.id, row.class_id, row.document_id, row.filename, row.size_bytes, row.state, row.stage,
                   row.progress, row.attempts, row.error, row.pages, row.chunks, row.worker, row.created_at,
                   row.finished_at)


@dataclass(frozen=True)
class IngestResult:
    filename: str
    status: str  # ready | failed (| processing: the same bytes are being processed by another upload)
    document_id: int | None = None
    error: str | None = None
    pages: int = 0
    chunks: int = 0
    deduplicated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ready"

    @classmethod
    def of(cls, job: JobInfo) -> "IngestResult":
        """An ended job's outcome; its seconds from queued to finished."""
        seconds = (job.finished_at - job.created_at).total_seconds() if job.finished_at else 0.0
        if job.state == "ready":
            return cls(job.filename, "ready", job.document_id, pages=job.pages, chunks=job.chunks, seconds=seconds)
        return cls(job.filename, "failed", error=job.error or f"{job.filename}: {job.state}", seconds=seconds)


@dataclass(frozen=True)
class Submitted:
    """An upload as submit() left it: queued (follow job_id), or decided at once (result)."""
    filename: str
    job_id: int | None = None
    result: IngestResult | None = None
