"""An answer's sources on the Chat page: one expander each, with the passage, a picture of the PDF
page it is on (the passage highlighted), the page at full size, and the original document. A
slide or Word page has no picture (nothing renders Office files here): its text is laid out instead."""
from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from core.errors import ClassGPTError, NotFound
from core.services import Services
from core.services.actors import Actor
from core.services.chat import Citation
from core.services.documents import shown_as_text
from ui.safe import block, inline

PREVIEW_WIDTH_PX = 800  # sharp at the chat column's width
# The full-size view: small print (footnotes, indices in formulas) legible in a large dialog,
# whose width the picture is scaled down to.
FULL_WIDTH_PX = 1800
LINK_EXPIRES_S = 3600  # an answer stays open for a while; its link to the original should still work


def show_sources(services: Services, actor: Actor, citations: Sequence[Citation], key: str, eager: bool,
                 heading: str = "Sources") -> None:
    """One expander per source; the first one's page image renders at once when `eager`."""
    if not citations:
        return
    st.caption(heading)
    for c in citations:
        expander = st.expander(f"[{c.n}] {inline(c.label)}", icon=":material/description:", key=f"{key}_{c.n}",
                               on_change="rerun", expanded=eager and c.n == 1)
        with expander:
            # the passage as a quote, line by line: headings and code stay apart and indented
            st.markdown("> " + block(c.text.strip()).replace("\n", "\n> "))
            if (c.page or c.page_label) and (expander.open or (eager and c.n == 1)):
                if shown_as_text(c.document):  # page_preview would refuse it: no picture of a slide
                    _show_text(services, actor, c, f"{key}_{c.n}")
                elif c.page:
                    _show_page(services, actor, c, f"{key}_{c.n}")


def where(c: Citation) -> str:
    """The page as the reader finds it: the printed number, and the PDF's own page when they differ
    (a viewer's page box counts from the cover)."""
    if c.page_label and c.page_label != str(c.page):
        return f"page {c.page_label} (PDF page {c.page})"
    return f"page {c.page}"


def _load(c: Citation, what: str, unavailable: str, load):
    """What `load` returns, or None after saying why the source cannot be shown."""
    try:
        return load()
    except NotFound:
        st.caption(f"{inline(c.document)} has been deleted since this answer, so its {what} can no longer be shown.")
    except ClassGPTError as exc:  # e.g. storage unavailable, or access removed since
        st.caption(f"{unavailable}: {inline(exc)}")
    return None


def _show_page(services: Services, actor: Actor, c: Citation, key: str) -> None:
    loaded = _load(c, "page", "The page preview is unavailable", lambda: (
        services.documents.page_preview(actor, c.document_id, c.page, width_px=PREVIEW_WIDTH_PX, highlight=c.text),
        services.documents.download_url(actor, c.document_id, LINK_EXPIRES_S, inline=True)))
    if loaded is None:
        return
    png, url = loaded
    st.image(png, caption=f"{inline(c.document)}, {inline(where(c))}: the passage is highlighted", width="stretch")
    full, original = st.columns(2)
    if full.button("See the page full size", key=f"{key}_full", icon=":material/zoom_in:", width="stretch"):
        _full_page(services, actor, c)
    if url:  # S3: the browser fetches the file straight from the bucket; #page= opens it at the page
        original.link_button(f"Open the PDF at {inline(where(c))}", f"{url}#page={c.page}",
                             icon=":material/open_in_new:", width="stretch")
    else:  # local files have no URL: the original comes through the app, read only when clicked
        original.download_button(f"Download the PDF — {inline(where(c))}",
                                 data=lambda: services.documents.download(actor, c.document_id)[2],
                                 file_name=c.document, mime="application/pdf", key=f"{key}_pdf",
                                 icon=":material/download:", on_click="ignore", width="stretch")


def _show_text(services: Services, actor: Actor, c: Citation, key: str) -> None:
    """A slide as its title in bold and its bullets; a Word page or section as its paragraphs."""
    loaded = _load(c, "text", "The text of this source is unavailable", lambda: (
        services.documents.page_text(actor, c.document_id, c.page, c.page_label, passage=c.text),
        services.documents.download_url(actor, c.document_id, LINK_EXPIRES_S)))
    if loaded is None:
        return
    view, url = loaded
    place = f"slide {c.page}" if view.kind == "slide" else (f"page {c.page}" if c.page else c.page_label or "")
    with st.container(border=True):
        if view.title:
            st.markdown(f"**{inline(view.title)}**")
        if view.kind == "slide" and view.lines:
            st.markdown("\n".join(f"- {inline(line)}" for line in view.lines))
        elif view.kind != "slide":
            for line in view.lines:
                st.markdown(block(line))
    st.caption(f"{inline(c.document)}, {inline(place)}: the text as indexed (speaker notes are not shown)")
    if url:
        st.link_button(f"Open {inline(c.document)}", url, icon=":material/open_in_new:")
    else:
        st.download_button(f"Download {inline(c.document)}",
                           data=lambda: services.documents.download(actor, c.document_id)[2],
                           file_name=c.document, key=f"{key}_file", icon=":material/download:", on_click="ignore")


@st.dialog("Source page", width="large")
def _full_page(services: Services, actor: Actor, c: Citation) -> None:
    png = _load(c, "page", "The page is unavailable", lambda: services.documents.page_preview(
        actor, c.document_id, c.page, width_px=FULL_WIDTH_PX, highlight=c.text))
    if png is None:
        return
    st.caption(f"{inline(c.document)}, {inline(where(c))}")
    st.image(png, width="stretch")
    st.download_button("Save this picture", data=png, file_name=_picture_name(c), mime="image/png",
                       icon=":material/download:", on_click="ignore", key=f"full_png_{c.document_id}_{c.page}")


def _picture_name(c: Citation) -> str:
    """e.g. "lecture-3-p-xii.png": the document's name without its extension, and the printed page."""
    stem = re.sub(r"\.pdf$", "", c.document, flags=re.IGNORECASE)
    return re.sub(r"[^\w.-]+", "-", f"{stem}-p-{c.printed_page}").strip("-") + ".png"
