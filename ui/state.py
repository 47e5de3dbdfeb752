"""Process-wide objects (services, the model warm-up) and the per-session actor and class."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:  # the services import SQLAlchemy and Alembic: keep them off the module import path
    from core.services import Services
    from core.services.actors import Actor

# absolute, so pages resolve the same whichever script Streamlit (or a test harness) runs as main
PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
ACTOR_KEY = "classgpt_actor"
CLASS_KEY = "classgpt_class_id"
PAGE_NOTICE = "classgpt_page_notice"  # a message for the page the user is on, dropped when they leave it
_PAGE = "classgpt_page"


def secrets_to_env() -> None:
    """Copy top-level Streamlit secrets into the environment, where Settings reads them.

    A variable that is already set wins (an operator's environment over a secrets file), and
    no secrets file at all is the normal local case.
    """
    try:
        items = dict(st.secrets)
    except Exception:  # no secrets.toml, or one Streamlit cannot parse: the environment decides
        return
    for key, value in items.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and key.upper() not in os.environ:
            os.environ[key.upper()] = str(value)


@st.cache_resource(show_spinner=False)
def get_services() -> Services:
    """The services, built once per process from Settings (secrets first become env vars)."""
    secrets_to_env()
    from core.config import Settings
    from core.events import configure_event_logging
    from core.services import build_services

    settings = Settings()
    configure_event_logging(settings.log_level)
    services = build_services(settings, migrate=True)  # the app brings the schema up to date at start
    if services.ingestion.runs_here:  # this process runs the jobs: take up what a stopped one left
        services.ingestion.resume()
    return services


@st.cache_resource(show_spinner=False)
def warm_up_model() -> threading.Thread:
    """Load the embedding model in the background once someone has logged in.

    The login page never pays for torch; the first upload or question after login usually
    finds the model ready.
    """
    services = get_services()
    # embedding a word loads the weights (building the embedder alone would not)
    thread = threading.Thread(target=lambda: services.embedder.embed(["warm up"]), name="classgpt-model-warmup",
                              daemon=True)
    thread.start()
    return thread


def page_path(name: str) -> Path:
    """The file of one page, e.g. page_path("chat"), for st.Page / st.switch_page / st.page_link."""
    return PAGES_DIR / f"{name}.py"


def current_actor() -> Actor | None:
    return st.session_state.get(ACTOR_KEY)


def through_app() -> None:
    """Run app.py (the gate, the navigation) when Streamlit ran this page file on its own.

    Until the process's first st.navigation call, Streamlit treats the folder `pages/` as an
    automatic page menu: the very first visitor of a fresh server who opens /documents gets
    pages/documents.py run alone, without app.py. Leaving that mode and rerunning sends the
    same address through app.py (the page's hash is its url_path, the same in both modes).
    PagesManager.uses_pages_directory is Streamlit's own switch for that mode (st.navigation
    clears it); where a Streamlit version lacks it, the check below does nothing.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def require_actor() -> Actor:
    """The logged-in actor; stops the page when there is none.

    app.py only lists pages after login, so this is a second lock: a page file run on its
    own (a test harness, a future refactor) still shows nothing without a login.
    """
    through_app()
    actor = current_actor()
    if actor is None:
        st.warning("Log in to see this page.")
        st.stop()
    return actor


def select_class(class_id: int | None) -> None:
    st.session_state[CLASS_KEY] = class_id


def entering(page_path_name: str) -> None:
    """Called by app.py each run with the page about to run: leaving a page drops its notice."""
    if st.session_state.get(_PAGE) != page_path_name:
        st.session_state[_PAGE] = page_path_name
        st.session_state.pop(PAGE_NOTICE, None)
