"""ClassGPT's entry point: `streamlit run app.py`.

Each run: build (once) the services, run the login gate, then hand st.navigation the pages
this user may see (ui/navigation.py). Before login every address shows the login page, so no
page or widget of the app exists for a logged-out session, and after the login the address the
user asked for opens. torch is not imported here: the model
loads on the first upload or question (or in the background after login).
"""
from __future__ import annotations

import streamlit as st
from pydantic import ValidationError as PydanticValidationError

from core.errors import ConfigError
from ui import auth, join
from ui.navigation import logged_in_pages, logged_out_pages
from ui.safe import inline
from ui.state import entering, get_services, warm_up_model
from ui.widgets import shown_errors

st.set_page_config(page_title="ClassGPT", page_icon="🎓", layout="centered")

try:
    services = get_services()
except (ConfigError, PydanticValidationError) as exc:  # e.g. production without a real AUTH_COOKIE_KEY
    st.error(f"ClassGPT cannot start with these settings.\n\n{exc}")  # each problem names its setting
    st.stop()

actor = auth.gate(services)
join.from_link(services, actor)  # a `?join=CODE` link: joins once someone is signed in
# less empty space above each page's title (Streamlit's default suits a page without navigation)
st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 3rem; }</style>")

if actor is None:
    page = st.navigation(logged_out_pages(), position="hidden")
    # the sidebar of the session that just logged out would stay open, empty
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'] { display: none; }</style>")
else:
    warm_up_model()
    # top, not sidebar: config.toml hides sidebar navigation so that Streamlit's automatic
    # pages/ menu never appears (see docs/app.md); the pages themselves: ui/navigation.py
    page = st.navigation(logged_in_pages(services, actor), position="top")
    with st.sidebar:
        st.caption(f"Signed in as **{inline(actor.name)}**  \n{inline(actor.email)}")
        st.button("Log out", icon=":material/logout:", on_click=auth.request_logout, key="sidebar_logout",
                  width="stretch")

entering(page.url_path)
with shown_errors(page.title):
    page.run()
