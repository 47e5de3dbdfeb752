"""ClassGPT's entry point: `streamlit run app.py`.

Each run: build (once) the services, run the login gate, then hand st.navigation the pages
this user may see. Before login that list is the login page alone, so no URL, page or
widget of the app exists for a logged-out session. torch is not imported here: the model
loads on the first upload or question (or in the background after login).
"""
from __future__ import annotations

import streamlit as st
from pydantic import ValidationError as PydanticValidationError

from core.errors import ConfigError
from ui import auth, join
from ui.safe import inline
from ui.state import entering, get_services, page_path, warm_up_model
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
    login = st.Page(page_path("login"), title="Log in", icon=":material/login:", url_path="login", default=True)
    page = st.navigation([login], position="hidden")
else:
    warm_up_model()
    pages = [
        st.Page(page_path("classes"), title="Classes", icon=":material/school:", url_path="classes", default=True),
        st.Page(page_path("chat"), title="Chat", icon=":material/chat:", url_path="chat"),
        st.Page(page_path("documents"), title="Documents", icon=":material/description:", url_path="documents"),
        st.Page(page_path("account"), title="Account", icon=":material/person:", url_path="account"),
    ]
    if actor.is_admin and page_path("status").exists():
        pages.append(st.Page(page_path("status"), title="Status", icon=":material/monitor_heart:", url_path="status"))
    # top, not sidebar: config.toml hides sidebar navigation so that Streamlit's automatic
    # pages/ menu never appears (see docs/app.md)
    page = st.navigation(pages, position="top")
    with st.sidebar:
        st.caption(f"Signed in as **{inline(actor.name)}**  \n{inline(actor.email)}")
        st.button("Log out", icon=":material/logout:", on_click=auth.request_logout, key="sidebar_logout",
                  width="stretch")

entering(page.url_path)
with shown_errors(page.title):
    page.run()
