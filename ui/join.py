"""Join links: the app's address with `?join=CODE`.

A student who opens one while logged out is shown the login page (log in, or create an account
and then log in); the code waits in the session state meanwhile, because the login step may drop
the query parameter. Once someone is signed in, the code goes through ClassService.join (the same
throttle as typing it) and is forgotten, whatever the outcome: a wrong or rotated code is reported
once, not retried on every click.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import streamlit as st

from core.errors import ClassGPTError
from ui.auth import client_address
from ui.safe import inline
from ui.state import select_class

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor

JOIN_PARAM = "join"
PENDING = "classgpt_join_code"
CLASSES_FLASH = "classgpt_classes_flash"  # the Classes page shows it (the app root's default page)
JOIN_ERROR = "classgpt_join_error"  # why a link's code did not join, for the Classes page too
MAX_CODE_CHARS = 32  # far above a real code; a link is user input


def join_link(code: str) -> str:
    """The link an instructor shares: the app's root (as this browser reached it) with the code."""
    parts = urlsplit(st.context.url or "")
    root = f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else "/"
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    if base:
        root += base + "/"
    return f"{root}?{urlencode({JOIN_PARAM: code})}"


def from_link(services: Services, actor: Actor | None) -> None:
    """Called by app.py every run, after the login gate: remember a link's code, and join its class
    as soon as someone is signed in."""
    ss = st.session_state
    if code := st.query_params.get(JOIN_PARAM):
        ss[PENDING] = code.strip()[:MAX_CODE_CHARS]
    code = ss.get(PENDING)
    if not code:
        return
    if actor is None:
        st.info(f"Log in, or create an account and then log in, to join the class with the code "
                f"**{inline(code)}**.", icon=":material/group_add:")
        return
    ss.pop(PENDING, None)
    st.query_params.pop(JOIN_PARAM, None)
    try:
        info = services.classes.join(actor, code, client_address(services))
    except ClassGPTError as exc:
        # shown by the Classes page, like the success: a login at /login goes on to Classes with
        # one more run (ui/navigation.py), which would drop a message shown in this one
        ss[JOIN_ERROR] = str(exc)
        return
    select_class(info.id)
    ss[CLASSES_FLASH] = f"You joined **{inline(info.name)}**. Ask away on the Chat page."
