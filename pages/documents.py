"""A class's documents: instructors upload (several at once, each followed as it is processed), download,
hide and delete; students read the list."""
from __future__ import annotations

import math

import streamlit as st

from ui.gold import gold_flags
from ui.safe import inline
from ui.state import get_services, require_actor
from ui.upload import file_name, show_jobs, show_outcomes, submit_files
from ui.visibility import visibility_inputs, visibility_label
from ui.widgets import class_or_stop, delete_with_confirmation, human_size, page_count, when

ss = st.session_state
actor = require_actor()
services = get_services()
documents = services.documents

st.title("Documents")
klass = class_or_stop(actor)

UPLOAD = "Upload and process"
STATUS_LABELS = {"ready": ":green[:material/check_circle: Ready]",
                 "processing": ":orange[:material/hourglass_top: Processing]",
                 "failed": ":red[:material/error: Failed]"}
# A name wraps only where file_name lets it (after _ . -), a single word longer than the line
# anywhere rather than pushing the page sideways; the cards' columns stack below 640 px.
st.html("<style>.st-key-documents p { word-break: normal; overflow-wrap: anywhere; }</style>")

if klass.can_manage:
    nonce = ss.setdefault("classgpt_uploader_nonce", 0)

    def take(chosen: list) -> None:
        """On Upload (before the run): keep the files, and give the uploader a new key, so that the
        run that processes them already shows it empty, ready for the next files."""
        ss["classgpt_upload_files"] = chosen
        ss["classgpt_uploader_nonce"] = nonce + 1

    # No type= filter: the browser would drop a .ppt or .xlsx before we could say why. Each chosen
    # file is judged here with the server's own sentences (upload() checks again), and only the
    # readable ones are uploaded. max_upload_size stays: a file over it is never sent, and Streamlit
    # names the limit; one between the limit and that whole number of MB is explained below.
    files = st.file_uploader(
        "Add course material", accept_multiple_files=True, key=f"uploader_{nonce}",
        max_upload_size=max(1, math.ceil(services.settings.max_upload_mb)),
        help=f"PDF, PowerPoint (.pptx), Word (.docx), plain text or Markdown, up to "
             f"{services.settings.max_upload_mb:g} MB each. Scanned PDFs need a text layer (OCR) first.") or []
    checked = [(f, documents.unsupported_reason(f.name, f.size)) for f in files]
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
        queued, outcomes = submit_files(documents, actor, klass.id, chosen, include_notes=include_notes,
                                        instructors_only=instructors_only, release_at=release_at)
        ss["classgpt_upload_batch"] = queued
        ss["classgpt_upload_outcomes"] = outcomes  # shown again on the run after (the rows' own ends it)
        show_outcomes(outcomes)
    elif outcomes := ss.pop("classgpt_upload_outcomes", None):
        show_outcomes(outcomes)
    show_jobs(documents, actor, klass.id, ss.get("classgpt_upload_batch", []))
else:
    st.caption("Your instructor manages this class's documents; answers in Chat come from them.")

gold_flags(actor, klass)  # checked questions the material stopped answering (after this run's uploads)
docs = documents.list(actor, klass.id)
st.subheader(f"{inline(klass.name)} · {len(docs)} document{'s' if len(docs) != 1 else ''}")
if not docs:
    if klass.can_manage:
        st.info("No documents yet. Upload lecture slides, notes or readings above: students can ask about "
                "them as soon as they are ready.", icon=":material/description:")
    else:
        st.info("Your instructor has not uploaded any documents yet.", icon=":material/description:")
    st.stop()


def show_document(doc) -> None:
    """One document as a card: name and what it is on the left; its state, who sees it and the
    actions on the right (below them on a phone, where Streamlit stacks columns)."""
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
        actions.download_button("", data=lambda doc_id=doc.id: documents.download(actor, doc_id)[2],
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
                ss["classgpt_upload_outcomes"] = [("success", f"Saved who sees **{inline(doc.filename)}**.")]
                st.rerun()

    def delete_document() -> None:
        documents.delete(actor, doc.id)
        ss["classgpt_upload_outcomes"] = [("success", f"Deleted **{inline(doc.filename)}**.")]

    delete_with_confirmation(
        str(doc.id), place=actions, help=f"Delete {inline(doc.filename)}", on_confirm=delete_document,
        warning=f"Delete **{inline(doc.filename)}**? Students can no longer ask about it. This cannot be undone.")


with st.container(key="documents"):
    for doc in docs:
        with st.container(border=True, key=f"document_{doc.id}"):
            show_document(doc)

if klass.can_manage:
    failures = documents.failures(actor, klass.id, limit=10)
    if failures:
        with st.expander(f"Recent failed uploads ({len(failures)})", icon=":material/error:"):
            for failure in failures:
                st.markdown(f"**{inline(failure.filename)}** · {when(failure.created_at)}  \n{inline(failure.error)}")
