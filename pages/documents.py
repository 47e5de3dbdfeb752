"""A class's documents: instructors upload (several at once, each followed as it is processed), download,
hide and delete; students read the list."""
from __future__ import annotations

import streamlit as st

from ui.documents import document_list, recent_failures, upload_form
from ui.gold import gold_flags
from ui.safe import inline
from ui.state import get_services, require_actor
from ui.widgets import class_or_stop

actor = require_actor()
services = get_services()

st.title("Documents")
klass = class_or_stop(actor)
if klass.can_manage:
    upload_form(services, actor, klass)
else:
    st.caption("Your instructor manages this class's documents; answers in Chat come from them.")

gold_flags(actor, klass)  # checked questions the material stopped answering (after this run's uploads)
docs = services.documents.list(actor, klass.id)
st.subheader(f"{inline(klass.name)} · {len(docs)} document{'s' if len(docs) != 1 else ''}")
if not docs:
    st.info("No documents yet. Upload lecture slides, notes or readings above: students can ask about them as "
            "soon as they are ready." if klass.can_manage else "Your instructor has not uploaded any documents yet.",
            icon=":material/description:")
    st.stop()
document_list(services, actor, klass, docs)
if klass.can_manage:
    recent_failures(services, actor, klass)
