"""The Documents page's visibility controls: instructors only, or hidden until a release time.

Times are entered and shown in UTC, like every time in the app (ui.widgets.when): the server does
not know the viewer's zone. The rule itself is core/services/visibility.py.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

import streamlit as st

from ui.widgets import when


def visibility_inputs(key: str, instructors_only: bool = False,
                      release_at: datetime | None = None) -> tuple[bool, datetime | None]:
    """A checkbox and an optional release date/time; returns (instructors_only, release_at in UTC)."""
    hidden = st.checkbox("Instructors only", value=instructors_only, key=f"{key}_hidden",
                         help="Answer keys, grading notes, drafts: students never see it, in the list or "
                              "in their answers. You still get it cited.")
    current = release_at.astimezone(timezone.utc) if release_at else None
    day_col, time_col = st.columns(2)
    day = day_col.date_input("Release on (UTC)", value=current.date() if current else None, key=f"{key}_day",
                             help="Hidden from students until then. Leave empty to release now.")
    at = time_col.time_input("at (UTC)", value=current.time() if current else time(0, 0), key=f"{key}_time")
    release = datetime.combine(day, at or time(0, 0), tzinfo=timezone.utc) if day else None
    return hidden, release


def visibility_label(instructors_only: bool, release_at: datetime | None) -> str:
    """What students see of it, in a word: nothing, nothing yet, or everything."""
    if instructors_only:
        return ":orange[:material/visibility_off: Instructors only]"
    if release_at is not None and release_at > datetime.now(timezone.utc):
        return f":orange[:material/schedule: From {when(release_at)}]"
    return ":gray[Everyone]"
