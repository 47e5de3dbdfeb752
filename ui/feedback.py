"""Thumbs up / down under an answer on the Chat page (FeedbackService.rate)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui.widgets import shown_errors

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor
    from core.services.chat import Message

THANKS_DOWN = "Thanks — your instructor sees which answers did not help (not who said so)."
THANKS_UP = "Thanks — glad it helped."
WITHDRAWN = "Your vote is withdrawn."


def feedback_widget(services: Services, actor: Actor, message: Message, current: bool | None) -> None:
    """Thumbs for one of the actor's answers, showing `current` (their stored vote). Clicking the
    chosen thumb again withdraws the vote, as the widget itself clears it."""
    key = f"feedback_{message.id}"  # message ids are unique across classes and users
    st.feedback("thumbs", key=key, default=_index(current), on_change=_save,
                args=(services, actor, message.id, key, current))


def _save(services: Services, actor: Actor, message_id: int, key: str, current: bool | None) -> None:
    """The widget's callback: runs before the page, so the page then loads the vote just stored."""
    value = st.session_state.get(key)
    helpful = None if value is None else bool(value)
    # Shown from the callback, so at the top of the page: the answer itself is usually gone by then
    # (cleared in another tab, or the student left the class) and so are its thumbs.
    with shown_errors("rate answer"):
        services.feedback.rate(actor, message_id, helpful)
        st.toast(WITHDRAWN if helpful is None else THANKS_UP if helpful else THANKS_DOWN, icon=":material/feedback:")
        return
    st.session_state[key] = _index(current)  # the vote was not stored: where it still shows, show what is


def _index(vote: bool | None) -> int | None:
    """st.feedback's thumbs: 0 is down, 1 is up, None is no vote."""
    return None if vote is None else int(vote)
