"""The upload list: every file of the class's recent uploads with its state, read from its ingest
job's row, so it is right while the user watches (redrawn every second while a job runs), after a
closed tab, and whichever process or worker runs the job.

A row is (filename, size, state, progress, detail).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import streamlit as st

from core.errors import ClassGPTError
from ui.safe import inline
from ui.widgets import human_size, page_count

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from core.services.actors import Actor
    from core.services.ingestion import IngestionService, IngestResult, JobInfo

# what people read for each of the job's stages (core.services.ingestion.STAGES), while it runs
RUNNING = {"checking": "Checking", "extracting": "Extracting text", "saving": "Saving the file",
           "embedding": "Embedding passages", "indexing": "Adding to the class's index"}
# a zero-width space after these lets a long name wrap there instead of inside a word (Playwright,
# like a reader, ignores it; the stored name has none)
_BREAK_AFTER = re.compile(r"([_.\-+,])(?=\S)")


@dataclass(frozen=True)
class UploadRow:
    filename: str
    size: int
    state: str = "queued"  # queued, one of RUNNING's keys, ready or failed
    progress: float = 0.0  # this file's share done, 0..1
    detail: str = ""  # "Embedding 96/310 passages"; when ready, "3 pages, 310 passages"; when failed, why


def file_name(name: str) -> str:
    """A filename for Markdown: shown literally, and able to wrap at _ . - rather than mid-word."""
    return _BREAK_AFTER.sub("\\1\u200b", inline(name))


def on_progress(row: UploadRow, stage: str, fraction: float) -> UploadRow:
    """The row after a progress report: the stage's first word is the state, the rest its detail."""
    state, _, rest = stage.partition(" ")
    if state not in RUNNING:  # ready / failed come with the result, which says more
        return row
    detail = f"{state} {rest}".capitalize() if state == "embedding" and rest else RUNNING[state]
    return replace(row, state=state, progress=min(max(fraction, 0.0), 1.0), detail=detail)


def show_row(row: UploadRow) -> None:
    """One file: queued, running (with a moving bar), ready (what was indexed) or failed (why)."""
    name = f"**{file_name(row.filename)}**"
    size = human_size(row.size)
    if row.state == "ready":
        st.markdown(f":green[:material/check_circle:] {name} is ready ({inline(row.detail)}) · :gray[{size}]")
    elif row.state == "failed":
        st.markdown(f":red[:material/error:] {name} failed · :gray[{size}]  \n:red[{inline(row.detail)}]")
    elif row.state == "queued":
        st.markdown(f":gray[:material/schedule:] {name} · :gray[{size} · {inline(row.detail or 'Queued')}]")
    else:
        st.markdown(f":blue[:material/progress_activity:] {name} · :gray[{size}]")
        st.progress(row.progress, text=inline(row.detail or RUNNING.get(row.state, row.state)))


def show_rows(rows: list[UploadRow]) -> None:
    """Every row in one box (the fragment in show_jobs draws them again each second while one runs)."""
    with st.container(border=True, key="upload_rows"):
        for row in rows:
            with st.container():
                show_row(row)


def finished(row: UploadRow, result: IngestResult) -> UploadRow:
    """The row once its upload returned: what was indexed, or why not."""
    if not result.ok:
        return replace(row, state="failed", progress=1.0, detail=result.error or "processing failed")
    if result.deduplicated:
        detail = "already in this class"
    else:
        passages = f"{result.chunks} passage{'s' if result.chunks != 1 else ''}"
        detail = f"{page_count(result.filename, result.pages)}, {passages}" if result.pages else passages
    return replace(row, state="ready", progress=1.0, detail=detail)


def row_of(job: JobInfo) -> UploadRow:
    """A file's row as its job's row says: queued, running (stage and bar), ready or failed (why)."""
    row = UploadRow(job.filename, job.size_bytes)
    if job.state == "queued":
        return replace(row, detail="" if job.stage in ("", "queued") else job.stage.capitalize())
    if job.state == "working":
        return on_progress(replace(row, state="checking", detail=RUNNING["checking"]), job.stage, job.progress)
    if job.state == "ready":
        passages = f"{job.chunks} passage{'s' if job.chunks != 1 else ''}"
        detail = f"{page_count(job.filename, job.pages)}, {passages}" if job.pages else passages
        return replace(row, state="ready", progress=1.0, detail=detail)
    return replace(row, state="failed", progress=1.0, detail=job.error or job.state)


def submit_files(ingestion: IngestionService, actor: Actor, class_id: int, files: list[UploadedFile],
                 **options) -> tuple[list[int], list[tuple[str, str]]]:
    """Store and queue every file (fast: the work is the jobs'). Returns the queued jobs, and the
    outcomes decided at once (a file already in the class, one refused by its type or first bytes)."""
    job_ids, outcomes = [], []
    for upload in files:
        row = UploadRow(upload.name, upload.size)
        try:
            submitted = ingestion.submit(actor, class_id, upload.name, upload.getvalue(), **options)
        except ClassGPTError as exc:  # e.g. no longer an instructor of this class
            outcomes.append(outcome(replace(row, state="failed", detail=str(exc))))
            continue
        if submitted.job_id is not None:
            job_ids.append(submitted.job_id)
        else:
            outcomes.append(outcome(finished(row, submitted.result)))
    return job_ids, outcomes


def show_jobs(ingestion: IngestionService, actor: Actor, class_id: int, batch: list[int]) -> None:
    """The class's uploads of the last half hour, one row each, redrawn every second while one runs;
    when they have all ended, the whole page runs again (the documents list takes the new ones).
    `batch` is the jobs this session just queued: once they have ended, a summary says how they went."""
    running = any(job.active for job in ingestion.for_class(actor, class_id))

    @st.fragment(run_every=1.0 if running else None)
    def rows() -> None:
        jobs = ingestion.for_class(actor, class_id)
        if jobs:
            show_rows([row_of(job) for job in jobs])
        mine = [job for job in jobs if job.id in batch]
        if batch and mine and not any(job.active for job in mine):
            show_summary([row_of(job) for job in mine])
        if running and not any(job.active for job in jobs):
            st.rerun()  # all ended while the user watched: the full page shows the new documents

    rows()


def outcome(row: UploadRow) -> tuple[str, str]:
    name = f"**{file_name(row.filename)}**"
    if row.state == "ready":
        return "success", f"{name} is ready ({inline(row.detail)})."
    # the service's reasons name the file already ("'x.pdf' looks damaged…")
    return "error", inline(row.detail) if row.filename in row.detail else f"{name}: {inline(row.detail)}"


def show_summary(rows: list[UploadRow]) -> None:
    ready = sum(row.state == "ready" for row in rows)
    failed = len(rows) - ready
    if not failed:
        st.success(f"Done: {'the file is' if ready == 1 else f'all {ready} files are'} ready.",
                   icon=":material/check_circle:")
    elif ready:
        st.warning(f"{ready} of {len(rows)} files are ready; {failed} failed (the reason is on "
                   f"{'its' if failed == 1 else 'each'} row).", icon=":material/warning:")
    else:
        st.error(f"{'The file' if failed == 1 else f'All {failed} files'} failed: the reason is on "
                 f"{'its' if failed == 1 else 'each'} row.", icon=":material/error:")


def show_outcomes(outcomes: list[tuple[str, str]]) -> None:
    """What the last upload (or delete, or visibility change) came to, after the rerun that follows it."""
    for kind, message in outcomes:
        (st.success if kind == "success" else st.error)(message)
