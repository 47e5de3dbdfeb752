"""A class's documents: instructors upload (several at once), download and delete; students read the list."""
from __future__ import annotations

import math

import streamlit as st

from core.errors import ClassGPTError
from ui.safe import inline
from ui.state import get_services, page_path, require_actor
from ui.visibility import visibility_inputs, visibility_label
from ui.widgets import class_picker, delete_with_confirmation, human_size, when

ss = st.session_state
actor = require_actor()
services = get_services()
documents = services.documents

st.title("Documents")
klass = class_picker(actor)
if klass is None:
    st.info("You are not in a class yet: create or join one first.", icon=":material/school:")
    st.page_link(page_path("classes"), label="Go to Classes", icon=":material/arrow_forward:")
    st.stop()

STATUS_LABELS = {"ready": ":green[:material/check_circle: Ready]",
                 "processing": ":orange[:material/hourglass_top: Processing]",
                 "failed": ":red[:material/error: Failed]"}


def process(files, include_notes: bool = False, instructors_only: bool = False, release_at=None) -> None:
    """Ingest each file with its own status box and progress bar; remember the outcome."""
    outcomes = []
    for upload in files:
        name = inline(upload.name)
        with st.status(f"Processing **{name}**…", expanded=True) as box:
            bar = st.progress(0.0, text="Starting")

            def progress(stage: str, fraction: float, bar=bar) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=stage.capitalize())

            try:
                result = documents.upload(actor, klass.id, upload.name, upload.getvalue(), progress=progress,
                                          include_notes=include_notes, instructors_only=instructors_only,
                                          release_at=release_at)
            except ClassGPTError as exc:  # e.g. no longer an instructor of this class
                box.update(label=f"**{name}**: {inline(exc)}", state="error")
                outcomes.append(("error", f"**{name}**: {inline(exc)}"))
                continue
            if result.ok:
                note = "already in this class" if result.deduplicated else (
                    f"{result.pages} page{'s' if result.pages != 1 else ''}, {result.chunks} passages"
                    if result.pages else f"{result.chunks} passages")
                box.update(label=f"**{name}** is ready ({note})", state="complete", expanded=False)
                outcomes.append(("success", f"**{name}** is ready ({note})."))
            else:
                st.error(inline(result.error))
                box.update(label=f"**{name}** failed", state="error", expanded=True)
                outcomes.append(("error", inline(result.error) if result.error else f"**{name}** failed."))
    ss["classgpt_upload_outcomes"] = outcomes


if klass.can_manage:
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Add course material", type=["pdf", "pptx", "docx", "txt", "md", "markdown"], accept_multiple_files=True,
            max_upload_size=max(1, math.ceil(services.settings.max_upload_mb)),  # the browser refuses bigger files
            help=f"PDF, PowerPoint (.pptx), Word (.docx), plain text or Markdown, up to "
                 f"{services.settings.max_upload_mb:g} MB each. Scanned PDFs need a text layer (OCR) first.")
        include_notes = st.checkbox("Index speaker notes (they often hold private remarks)", value=False,
                                    help="PowerPoint decks only: students could be shown what the notes say.")
        instructors_only, release_at = visibility_inputs("upload")
        submitted = st.form_submit_button("Upload and process", type="primary", icon=":material/upload:")
    if submitted and files:
        process(files, include_notes, instructors_only, release_at)
    elif submitted:
        st.warning("Choose one or more files first.")
    elif outcomes := ss.pop("classgpt_upload_outcomes", None):
        for kind, message in outcomes:
            (st.success if kind == "success" else st.error)(message)
else:
    st.caption("Your instructor manages this class's documents; answers in Chat come from them.")

docs = documents.list(actor, klass.id)
st.subheader(f"{inline(klass.name)} · {len(docs)} document{'s' if len(docs) != 1 else ''}")
if not docs:
    if klass.can_manage:
        st.info("No documents yet. Upload lecture slides, notes or readings above: students can ask about "
                "them as soon as they are ready.", icon=":material/description:")
    else:
        st.info("Your instructor has not uploaded any documents yet.", icon=":material/description:")
    st.stop()

widths = [4, 1.3, 2.4, 0.5] + ([1.6, 0.5, 0.5] if klass.can_manage else [])
header = st.columns(widths, vertical_alignment="bottom")
for col, title in zip(header, ["Document", "Status", "Uploaded by", "", "Students see it"]):
    col.caption(f"**{title}**")

for doc in docs:
    cols = st.columns(widths, vertical_alignment="center")
    icon = ":material/picture_as_pdf:" if doc.content_type == "application/pdf" else ":material/article:"
    pages = f"{doc.page_count} page{'s' if doc.page_count != 1 else ''} · " if doc.page_count else ""
    cols[0].markdown(f"{icon} **{inline(doc.filename)}**  \n:gray[{pages}{human_size(doc.size_bytes)}]")
    cols[1].markdown(STATUS_LABELS.get(doc.status, doc.status), help=inline(doc.error) if doc.error else None)
    cols[2].markdown(f"{inline(doc.uploaded_by or 'unknown')}  \n:gray[{when(doc.created_at)}]")
    url = documents.download_url(actor, doc.id)
    if url:  # S3: the browser fetches the file straight from the bucket
        cols[3].link_button("", url, icon=":material/download:", help=f"Download {inline(doc.filename)}")
    else:
        cols[3].download_button("", data=lambda doc_id=doc.id: documents.download(actor, doc_id)[2],
                                file_name=doc.filename, mime=doc.content_type, key=f"download_{doc.id}",
                                icon=":material/download:", help=f"Download {inline(doc.filename)}",
                                on_click="ignore")
    if not klass.can_manage:
        continue
    cols[4].markdown(visibility_label(doc.instructors_only, doc.release_at))
    with cols[5].popover("", icon=":material/visibility:", help=f"Who sees {inline(doc.filename)}"):
        with st.form(f"visibility_{doc.id}", border=False):
            hidden, release = visibility_inputs(f"visibility_{doc.id}", doc.instructors_only, doc.release_at)
            if st.form_submit_button("Save"):
                documents.set_visibility(actor, doc.id, hidden, release)
                ss["classgpt_upload_outcomes"] = [("success", f"Saved who sees **{inline(doc.filename)}**.")]
                st.rerun()

    def delete_document(doc=doc) -> None:
        documents.delete(actor, doc.id)
        ss["classgpt_upload_outcomes"] = [("success", f"Deleted **{inline(doc.filename)}**.")]

    delete_with_confirmation(
        str(doc.id), place=cols[6], help=f"Delete {inline(doc.filename)}", on_confirm=delete_document,
        warning=f"Delete **{inline(doc.filename)}**? Students can no longer ask about it. This cannot be undone.")

if klass.can_manage:
    failures = documents.failures(actor, klass.id, limit=10)
    if failures:
        with st.expander(f"Recent failed uploads ({len(failures)})", icon=":material/error:"):
            for failure in failures:
                st.markdown(f"**{inline(failure.filename)}** · {when(failure.created_at)}  \n{inline(failure.error)}")
