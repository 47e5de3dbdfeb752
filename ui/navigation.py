"""Which pages a session has, and what an address the session may not open shows instead.

A page's address is its url_path, and Streamlit picks the page to run by that path alone (the
page's hash is the hash of its url_path). So:

- logged out, every app address is a hidden page that shows the login form: /chat opened by a
  logged-out visitor shows "Log in" at /chat (no "Page not found"), and once the login succeeds
  the same address resolves to the real Chat page: the user lands where they asked to go;
- logged in, /login is a hidden page that goes on to the user's first page (a bookmark of the
  login page, or the address the login form had, never shows "Page not found");
- a page someone may not use (Status without being an administrator, Insights or Checks without
  managing a class) is a hidden page saying who it is for, rather than an unexplained "not found".
Nothing of a page's content exists for a session that may not see it: the stand-ins run only the
login form or a one-line explanation.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ui.state import page_path

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor

LOGIN_PATH = "login"


@dataclass(frozen=True)
class AppPage:
    name: str  # the file pages/<name>.py, and its url_path
    title: str
    icon: str
    who: str  # "everyone" signed in | "managers" (instructors of a class, operators) | "admins"

    def exists(self) -> bool:
        return page_path(self.name).exists()


APP_PAGES = (
    AppPage("classes", "Classes", ":material/school:", "everyone"),
    AppPage("chat", "Chat", ":material/chat:", "everyone"),
    AppPage("documents", "Documents", ":material/description:", "everyone"),
    AppPage("insights", "Insights", ":material/insights:", "managers"),
    AppPage("checks", "Checks", ":material/fact_check:", "managers"),
    AppPage("account", "Account", ":material/person:", "everyone"),
    AppPage("status", "Status", ":material/monitor_heart:", "admins"),
)
NOT_FOR_YOU = {
    "managers": "This page is for a class's instructors. Your classes are on the Classes page.",
    "admins": "This page is for administrators.",
}


def logged_out_pages() -> list[st.Page]:
    """The login page, at its own address and at every app address (see the module's docstring).
    At the root it stands for the first page (Classes): a login there lands on Classes in the
    same run, without passing through /login."""
    login = page_path(LOGIN_PATH)
    first, *rest = [p for p in APP_PAGES if p.exists()]
    pages = [st.Page(login, title="Log in", icon=":material/login:", url_path=first.name, default=True)]
    pages += [st.Page(login, title="Log in", icon=":material/login:", url_path=p.name, visibility="hidden")
              for p in [*rest, AppPage(LOGIN_PATH, "Log in", ":material/login:", "everyone")]]
    return pages


def logged_in_pages(services: Services, actor: Actor) -> list[st.Page]:
    """The pages this actor uses, in the menu; stand-ins for the rest, and for /login."""
    allowed = {"everyone": True, "admins": actor.is_admin,
               "managers": any(c.can_manage for c in services.classes.list_for(actor))}
    pages = []
    for p in APP_PAGES:
        if not p.exists():
            continue
        if allowed[p.who]:
            pages.append(st.Page(page_path(p.name), title=p.title, icon=p.icon, url_path=p.name,
                                 default=p.name == "classes"))
        else:
            pages.append(st.Page(_not_for_you(NOT_FOR_YOU[p.who]), title=p.title, icon=p.icon, url_path=p.name,
                                 visibility="hidden"))
    pages.append(st.Page(_go_to_first_page, title="Log in", url_path=LOGIN_PATH, visibility="hidden"))
    return pages


def _not_for_you(message: str) -> Callable[[], None]:
    def page() -> None:
        st.info(message, icon=":material/lock:")
        st.page_link(page_path("classes"), label="Go to Classes", icon=":material/arrow_forward:")

    return page


def _go_to_first_page() -> None:
    """/login for someone already signed in: on to the first page, without a "not found"."""
    st.switch_page(page_path("classes"))
