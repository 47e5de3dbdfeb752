"""The Documents page's parts: the upload form (instructors), a card per document, recent failures."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import streamlit as st

from ui.safe import inline
from ui.upload import file_name, show_jobs, show_outcomes, submit_files
from ui.visibility import visibility_inputs, visibility_label
from ui.widgets import delete_with_confirmation, human_size, page_count, when

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor
    from core.services.classes import ClassInfo
    from core.services.documents import DocumentInfo

UPLOAD = "Upload and process"
STATUS_LABELS = {"ready": ":green[:material/check_circle: Ready]",
                 "processing": ":orange[:material/hourglass_top: Processing]",
                 "failed": ":red[:material/error: Failed]"}
OUTCOMES = "classgpt_upload_outcomes"  # what the last upload, delete or visibility change came to
FAILURES_SHOWN = 10


def upload_form(services: Services, actor: Actor, klass: ClassInfo) -> None:
    """Choose files (each judged at once, in the server's own words), upload the readable ones, and
    follow every file of the class's recent uploads to ready or failed (docs/upload.md)."""
    ss = st.session_state
    nonce = ss.setdefault("classgpt_uploader_nonce", 0)

    def take(chosen: list) -> None:
        """On Upload (before the run): keep the files, and give the uploader a new key, so that the
        run that processes them already shows it empty, ready for the next files."""
        ss["classgpt_upload_files"] = chosen
        ss["classgpt_uploader_nonce"] = nonce + 1

    # No type= filter: the browser would drop a .ppt or .xlsx before we could say why. Each chosen
    # file is judged here with the server's own sentences (submit() checks again), and only the
    # readable ones are uploaded. max_upload_size stays: a file over it is never sent, and Streamlit
    # names the limit; one between the limit and that whole number of MB is explained below.
    limit_mb = services.settings.max_upload_mb
    files = st.file_uploader(
        "Add course material", accept_multiple_files=True, key=f"uploader_{nonce}",
        max_upload_size=max(1, math.ceil(limit_mb)),
        help=f"PDF, PowerPoint (.pptx), Word (.docx), plain text or Markdown, up to {limit_mb:g} MB each. "
             "Scanned PDFs need a text layer (OCR) first.") or []
    checked = [(f, services.ingestion.unsupported_reason(f.name, f.size)) for f in files]
    accepted = [f for f, reason in checked if reason is None]
    if refused := [reason for _, reason in checked if reason]:
        st.warning(f"**{'This file' if len(refused) == 1 else f'{len(refused)} files'} cannot be uploaded:**  \n"
                   + "  \n".join(f"· {inline(reason)}" for reason in refused), icon=":material/block:")
    with st.form("upload", clear_on_submit=True, border=False):
        include_notes = st.checkbox("Index speaker notes (they often hold private remarks)", value=False,
                                    help="PowerPoint decks only: students could be shown what the notes say.")
        instructors_only, release_at = visibility_inputs("upload")
        label = UPLOAD if not refused or not accepted else f"{UPLOAD} {len(accepted)} of {len(files)} files"
        why_not = None if accepted else ("Choose one or more files first." if not files
                                         else "None of the chosen files can be uploaded: see why above.")
        st.form_submit_button(label, type="primary", icon=":material/upload:", disabled=not accepted, help=why_not,
                              on_click=take, args=(accepted,))
    if chosen := ss.pop("classgpt_upload_files", None):
        queued, outcomes = submit_files(services.ingestion, actor, klass.id, chosen, include_notes=include_notes,
                                        instructors_only=instructors_only, release_at=release_at)
        ss["classgpt_upload_batch"] = queued
        ss[OUTCOMES] = outcomes  # shown again on the run after (the rows' own ends it)
        show_outcomes(outcomes)
    elif outcomes := ss.pop(OUTCOMES, None):
        show_outcomes(outcomes)
    show_jobs(services.ingestion, actor, klass.id, ss.get("classgpt_upload_batch", []))


def document_list(services: Services, actor: Actor, klass: ClassInfo, docs: list[DocumentInfo]) -> None:
    """Every document as a card (a name wraps only where file_name lets it, after _ . -, a single word
    longer than the line anywhere, rather than pushing the page sideways; the cards' columns stack
    below 640 px)."""
    st.html("<style>.st-key-documents p { word-break: normal; overflow-wrap: anywhere; }</style>")
    with st.container(key="documents"):
        for doc in docs:
            with st.container(border=True, key=f"document_{doc.id}"):
                _card(services, actor, klass, doc)


def _card(services: Services, actor: Actor, klass: ClassInfo, doc: DocumentInfo) -> None:
    """One document: name and what it is on the left; its state, who sees it and the actions on the
    right (below them on a phone, where Streamlit stacks columns)."""
    documents = services.documents
    main, side = st.columns([3, 2], vertical_alignment="center")
    icon = ":material/picture_as_pdf:" if doc.content_type == "application/pdf" else ":material/article:"
    pages = f"{page_count(doc.filename, doc.page_count)} · " if doc.page_count else ""
    main.markdown(f"{icon} **{file_name(doc.filename)}**  \n:gray[{pages}{human_size(doc.size_bytes)} · "
                  f"{inline(doc.uploaded_by or 'unknown')} · {when(doc.created_at)}]")
    state = STATUS_LABELS.get(doc.status, doc.status)
    if klass.can_manage:
        state += " · " + visibility_label(doc.instructors_only, doc.release_at)
    side.markdown(state, help=inline(doc.error) if doc.error else None)
    actions = side.container(horizontal=True, vertical_alignment="center", gap="small")
    url = documents.download_url(actor, doc.id)
    if url:  # S3: the browser fetches the file straight from the bucket
        actions.link_button("", url, icon=":material/download:", help=f"Download {inline(doc.filename)}")
    else:
        actions.download_button("", data=lambda: documents.download(actor, doc.id)[2],
                                file_name=doc.filename, mime=doc.content_type, key=f"download_{doc.id}",
                                icon=":material/download:", help=f"Download {inline(doc.filename)}",
                                on_click="ignore")
    if not klass.can_manage:
        return
    with actions.popover("", icon=":material/visibility:", help=f"Who sees {inline(doc.filename)}"):
        with st.form(f"visibility_{doc.id}", border=False):
            hidden, release = visibility_inputs(f"visibility_{doc.id}", doc.instructors_only, doc.release_at)
            if st.form_submit_button("Save"):
                documents.set_visibility(actor, doc.id, hidden, release)
                st.session_state[OUTCOMES] = [("success", f"Saved who sees **{inline(doc.filename)}**.")]
                st.rerun()

    def delete_document() -> None:
        documents.delete(actor, doc.id)
        st.session_state[OUTCOMES] = [("success", f"Deleted **{inline(doc.filename)}**.")]

    delete_with_confirmation(
        str(doc.id), place=actions, help=f"Delete {inline(doc.filename)}", on_confirm=delete_document,
        warning=f"Delete **{inline(doc.filename)}**? Students can no longer ask about it. This cannot be undone.")


def recent_failures(services: Services, actor: Actor, klass: ClassInfo) -> None:
    failures = services.documents.failures(actor, klass.id, limit=FAILURES_SHOWN)
    if failures:
        with st.expander(f"Recent failed uploads ({len(failures)})", icon=":material/error:"):
            for failure in failures:
                st.markdown(f"**{inline(failure.filename)}** · {when(failure.created_at)}  \n{inline(failure.error)}")
