"""An answer's sources on the Chat page: one expander each, with the passage and a picture of
the PDF page it is on."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.answers.model import Citation
from core.errors import ClassGPTError
from core.services import Services
from core.services.actors import Actor
from ui.safe import block, inline


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
            if c.page and (expander.open or (eager and c.n == 1)):
                try:
                    png = services.documents.page_preview(actor, c.document_id, c.page, width_px=800)
                except ClassGPTError as exc:  # the document was deleted since this answer
                    st.caption(f"The page preview is unavailable: {inline(exc)}")
                else:
                    st.image(png, caption=f"{inline(c.document)}, page {c.printed_page}", width=440)
