"""Small pieces the pages share: the class picker, errors shown to users, formatting."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import streamlit as st

from core.errors import ClassGPTError
from core.events import log_error
from ui.safe import inline
from ui.state import CLASS_KEY, get_services, page_path, select_class

if TYPE_CHECKING:
    from core.services.actors import Actor
    from core.services.classes import ClassInfo

ROLE_LABELS = {"instructor": "Instructor", "student": "Student", "legacy": "Shared", "operator": "Operator"}
ROLE_COLORS = {"instructor": "violet", "student": "blue", "legacy": "gray", "operator": "orange"}


def show_error(exc: ClassGPTError) -> None:
    """A domain error for its user: its message may quote a filename or a class name, shown literally."""
    st.error(inline(exc), icon=":material/error:")


@contextmanager
def shown_errors(where: str = "") -> Iterator[None]:
    """The one way a page shows what went wrong: a domain error as st.error, in its own words, and
    anything else as a message with a reference id (logged with `where`). The block ends at the
    error and the page goes on after it, so the lines after a service call inside the block are
    its success path (st.stop / st.rerun are BaseExceptions and pass through)."""
    try:
        yield
    except ClassGPTError as exc:
        show_error(exc)
    except Exception as exc:
        ref = log_error("page_error", exc, page=where)
        st.error(f"Something went wrong (reference {ref}). Try again; if it keeps happening, "
                 "tell your administrator the reference.")


def class_picker(actor: Actor, *, label: str = "Class") -> ClassInfo | None:
    """A select box over the actor's classes, remembered across pages; None when there are none."""
    classes = get_services().classes.list_for(actor)
    if not classes:
        return None
    by_id = {c.id: c for c in classes}
    current = st.session_state.get(CLASS_KEY)
    if current not in by_id:
        current = classes[0].id
        select_class(current)
    widget_key = "class_picker"
    # the widget's own state is dropped on pages without it; seed it from the remembered class
    st.session_state[widget_key] = current
    chosen = st.selectbox(label, list(by_id), key=widget_key,
                          format_func=lambda cid: f"{by_id[cid].name}  ·  {ROLE_LABELS[by_id[cid].role]}",
                          on_change=lambda: select_class(st.session_state[widget_key]))
    return by_id[chosen]


def class_or_stop(actor: Actor, *, label: str = "Class", managers_only: str | None = None) -> ClassInfo:
    """The class picker of a page about one class; the page stops, saying why, when the actor is in
    no class, or (with `managers_only`, the sentence to show) does not manage the chosen one."""
    klass = class_picker(actor, label=label)
    if klass is None:
        st.info("You are not in a class yet: create one, or join with the code your instructor gave you.",
                icon=":material/school:")
        st.page_link(page_path("classes"), label="Go to Classes", icon=":material/arrow_forward:")
        st.stop()
    if managers_only and not klass.can_manage:
        st.info(managers_only, icon=":material/lock:")
        st.stop()
    return klass


def delete_with_confirmation(key: str, *, warning: str, on_confirm: Callable[[], None], label: str = "",
                             help: str | None = None, place=None) -> bool:
    """A delete button (in `place`, e.g. a column) that first asks: `warning` with "Yes, delete" and
    "Cancel". "Yes" runs on_confirm, then reruns the page. Returns whether the question is showing."""
    return with_confirmation(key, warning=warning, on_confirm=on_confirm, label=label, help=help, place=place)


def with_confirmation(key: str, *, warning: str, on_confirm: Callable[[], None], label: str = "",
                      help: str | None = None, place=None, action: str = "delete", yes: str = "Yes, delete",
                      icon: str = ":material/delete:") -> bool:
    """A button that first asks (`warning`, then `yes` or "Cancel"); its keys are `{action}_{key}`,
    `{action}_yes_{key}` and `{action}_no_{key}`. Returns whether the question is showing."""
    ss = st.session_state
    asking = f"confirm_{action}_{key}"
    if not ss.get(asking):
        if (place or st).button(label, key=f"{action}_{key}", icon=icon, help=help):
            ss[asking] = True
            st.rerun()
        return False
    with st.container(border=True):
        st.warning(warning)
        yes_col, no_col, _ = st.columns([1, 1, 3])
        if yes_col.button(yes, key=f"{action}_yes_{key}", type="primary"):
            ss.pop(asking, None)
            on_confirm()
            st.rerun()
        if no_col.button("Cancel", key=f"{action}_no_{key}"):
            ss.pop(asking, None)
            st.rerun()
    return True


def role_badge(role: str) -> None:
    st.badge(ROLE_LABELS.get(role, role), color=ROLE_COLORS.get(role, "gray"))


def page_count(filename: str, n: int) -> str:
    """ "3 pages", or a deck's "3 slides" (a slide is a deck's page: core/ingest/office.py)."""
    unit = "slide" if filename.lower().endswith(".pptx") else "page"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def when(dt: datetime | None) -> str:
    """A short local-looking timestamp (UTC: the server does not know the viewer's zone)."""
    if dt is None:
        return ""
    return dt.astimezone(timezone.utc).strftime("%d %b %Y, %H:%M UTC")
