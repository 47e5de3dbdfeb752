"""The upload list: every chosen file at once with its state, each row redrawn in place as its file moves on.

A row is (filename, size, state, progress, detail). Today the Documents page fills the rows from
DocumentService.upload's progress callback while it runs; when ingestion becomes queued jobs
(issue 12), the same rows can be filled from the database and drawn with show_rows.
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
    from core.services.documents import DocumentService, IngestResult

# what people read for each of the service's stages (core.services.documents.STAGES), while it runs
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
    """One file: queued, running (with a moving bar), ready (what was indexed) or failed (why).
    Always two elements, the second a bar or nothing: redrawn in the same run, a row with fewer
    elements would leave the earlier bar standing under it."""
    name = f"**{file_name(row.filename)}**"
    size = human_size(row.size)
    if row.state == "ready":
        st.markdown(f":green[:material/check_circle:] {name} is ready ({inline(row.detail)}) · :gray[{size}]")
    elif row.state == "failed":
        st.markdown(f":red[:material/error:] {name} failed · :gray[{size}]  \n:red[{inline(row.detail)}]")
    elif row.state == "queued":
        st.markdown(f":gray[:material/schedule:] {name} · :gray[{size} · Queued]")
    else:
        st.markdown(f":blue[:material/progress_activity:] {name} · :gray[{size}]")
        st.progress(row.progress, text=inline(row.detail or RUNNING.get(row.state, row.state)))
        return
    st.empty()


def show_rows(rows: list[UploadRow]) -> list:
    """Draw every row at once; returns one slot per row, for redrawing it in place (redraw)."""
    slots = []
    with st.container(border=True, key="upload_rows"):
        for row in rows:
            slots.append(st.empty())
            redraw(slots[-1], row)
    return slots


def redraw(slot, row: UploadRow) -> None:
    with slot.container():
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


def upload_files(documents: DocumentService, actor: Actor, class_id: int, files: list[UploadedFile],
                 **options) -> list[tuple[str, str]]:
    """List every file as queued, then upload them in turn, each row following its file; then a
    summary. Returns the outcomes, (kind, Markdown) for the page to show again after a rerun."""
    rows = [UploadRow(f.name, f.size) for f in files]
    slots = show_rows(rows)
    for i, upload in enumerate(files):
        rows[i] = replace(rows[i], state="checking", detail=RUNNING["checking"])
        redraw(slots[i], rows[i])

        def progress(stage: str, fraction: float, i: int = i) -> None:
            moved = on_progress(rows[i], stage, fraction)
            if moved != rows[i]:
                rows[i] = moved
                redraw(slots[i], moved)

        try:
            result = documents.upload(actor, class_id, upload.name, upload.getvalue(), progress=progress, **options)
        except ClassGPTError as exc:  # e.g. no longer an instructor of this class
            rows[i] = replace(rows[i], state="failed", progress=1.0, detail=str(exc))
        else:
            rows[i] = finished(rows[i], result)
        redraw(slots[i], rows[i])
    show_summary(rows)
    return [outcome(row) for row in rows]


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
