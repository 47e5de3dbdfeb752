"""Ask a class's documents: the chat, its history, and each answer's sources with the page they come from."""
from __future__ import annotations

import streamlit as st

from ui.feedback import feedback_widget
from ui.safe import block, inline
from ui.sources import show_sources
from ui.state import get_services, page_path, require_actor
from ui.widgets import class_or_stop, shown_errors

EAGER_ANSWERS = 1  # the newest answer's page images render at once; older ones when opened

actor = require_actor()
services = get_services()

st.title("Chat")
klass = class_or_stop(actor, label="Ask about")


history = services.chat.history(actor, klass.id)
if klass.document_count == 0:
    st.info("This class has no documents yet, so there is nothing to answer from. "
            + ("Upload course material on the Documents page." if klass.can_manage
               else "Your instructor has to upload course material first."), icon=":material/description:")
    if klass.can_manage:
        st.page_link(page_path("documents"), label="Upload documents", icon=":material/upload:")
elif not history:
    st.caption(f"Ask anything about **{inline(klass.name)}**'s material. Every answer cites the document and page "
               "it comes from.")

votes = services.feedback.votes(actor, klass.id)
answers_seen = sum(1 for m in history if m.role == "assistant")
seen = 0
for i, message in enumerate(history):
    with st.chat_message(message.role):
        st.markdown(block(message.content))
        if message.role == "assistant":
            seen += 1
            if message.notice:
                st.caption(inline(message.notice))
            if message.model and message.citations:  # a model's "not covered" cites nothing to check
                st.caption(f"Written by {inline(message.model)} from the cited sources; every sentence "
                           "checked against them.")
            eager = seen > answers_seen - EAGER_ANSWERS
            show_sources(services, actor, message.citations, f"src_{klass.id}_{i}", eager=eager)
            show_sources(services, actor, message.related, f"rel_{klass.id}_{i}", eager=False,
                         heading="Related material (it does not answer the question)")
            feedback_widget(services, actor, message, votes.get(message.id))

if history:
    if st.sidebar.button("Clear this chat", icon=":material/delete_sweep:", key="clear_chat"):
        services.chat.clear_history(actor, klass.id)
        st.rerun()

question = st.chat_input(f"Ask about {klass.name}…", disabled=klass.document_count == 0, max_chars=2000)
if question:
    with st.chat_message("user"):
        st.markdown(block(question))
    with st.chat_message("assistant"), shown_errors("ask"):
        with st.spinner("Searching the class material…"):
            stream = services.chat.ask_stream(actor, klass.id, question)
        # the words as they arrive (a model's are checked before they are kept), as text: a source
        # that asks the model to write ![x](http://…) must not make a student's browser fetch it
        shown, text = st.empty(), ""
        for delta in stream:
            text += delta
            shown.markdown(block(text))
        st.rerun()  # history now holds the question and the answer; show them from there
