"""A browser's side of a Streamlit session, without a browser: the websocket at /_stcore/stream.

A browser's Streamlit frontend speaks protobuf over one websocket: it sends a BackMsg
`rerun_script` (the page, the query string and the value of every widget it changed) and
reads ForwardMsgs: `new_session` when a script run starts, `delta`s that add elements and
blocks at a path, `navigation` (the pages and their hashes) and `script_finished`. This client
does the same, so the server does exactly the work a browser's session causes (the script
run, the database reads, the answer), while the load generator stays a few coroutines in one
process instead of a Chromium tab per user.

What it leaves out, on purpose: it never fetches static files or media (page pictures), and it
reports no cached message hashes, so the server sends every element in full (a browser with a
warm cache would get some as references). The protocol classes ship with Streamlit; the
websocket client is the `websockets` package Streamlit itself requires. This module uses only
Streamlit's generated protobuf classes, as a wire format; it lives outside `core`, which knows no
screen: the load test is a client of the app, as a browser is.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from core.errors import ClassGPTError

FINISHED = ForwardMsg.ScriptFinishedStatus
Path = tuple[int, ...]


class SessionError(ClassGPTError):
    """The session cannot go on: disconnected, timed out, or the page is not what was expected."""


@dataclass
class Page:
    """What one script run rendered: elements and blocks by their delta path."""
    elements: dict[Path, object] = field(default_factory=dict)  # path -> streamlit.proto Element
    blocks: dict[Path, object] = field(default_factory=dict)  # path -> streamlit.proto Block
    page_hash: str = ""

    def widgets(self, kind: str) -> list:
        """Every element of one kind ("text_input", "button", "chat_input"...), in page order."""
        return [getattr(e, kind) for _, e in sorted(self.elements.items()) if e.WhichOneof("type") == kind]

    def widget(self, kind: str, label: str | None = None):
        for w in self.widgets(kind):
            if label is None or w.label == label:
                return w
        raise SessionError(f"no {kind} labelled {label!r} on the page" if label else f"no {kind} on the page")

    def blocks_of(self, kind: str) -> list[tuple[Path, object]]:
        return [(p, b) for p, b in sorted(self.blocks.items()) if b.WhichOneof("type") == kind]

    def within(self, prefix: Path) -> list[tuple[Path, object]]:
        """Elements and blocks under a block, in page order (a path extends its parent's)."""
        n = len(prefix)
        inside = [(p, e) for p, e in self.elements.items() if p[:n] == prefix and len(p) > n]
        inside += [(p, b) for p, b in self.blocks.items() if p[:n] == prefix and len(p) > n]
        return sorted(inside, key=lambda item: item[0])

    def errors(self) -> list[str]:
        """Exceptions and error alerts the run rendered (the app shows failures as st.error)."""
        found = []
        for _, e in sorted(self.elements.items()):
            kind = e.WhichOneof("type")
            if kind == "exception":
                found.append(f"exception: {e.exception.type}: {e.exception.message}"[:300])
            elif kind == "alert" and e.alert.format == e.alert.ERROR:
                found.append(f"error: {e.alert.body}"[:300])
        return found


class StreamlitSession:
    """One browser session: connect, run pages, set widgets, wait for each run to finish."""

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.ws_url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/_stcore/stream"
        self.timeout_s = timeout_s
        self.pages: dict[str, str] = {}  # url_pathname -> page_script_hash, from the navigation message
        self.page = Page()
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._finished: asyncio.Queue = asyncio.Queue()  # (status, Page) per finished run
        self._current = Page()
        self.runs_ms: list[float] = []  # when each script run of the last `run` call ended, from the send

    async def connect(self) -> Page:
        """Open the websocket and run the default page, as a browser opening the app's address."""
        # the first subprotocol selects Streamlit's; the second would carry the XSRF token, which
        # only the auth cookie of st.login needs (this app keeps its own session)
        # no client pings: a browser sends none, and a server too busy to answer one in time would
        # be cut off by the client (a stuck server shows as a run that does not finish instead)
        try:
            self._ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                                open_timeout=self.timeout_s, ping_interval=None)
        except (OSError, websockets.WebSocketException) as exc:  # refused, timed out, not a websocket
            raise SessionError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        self._reader = asyncio.create_task(self._read())
        return await self.run()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def run(self, widgets: Iterable[WidgetState] = (), page: str | None = None) -> Page:
        """Rerun the script (on `page`, a url path, else the current one) with these widget values;
        return what the last run rendered once the script has finished without asking for another
        run (st.rerun's follow-up runs are waited for, as the browser shows only their result)."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        if page is not None:
            if page not in self.pages:
                raise SessionError(f"no page {page!r} in the navigation ({', '.join(self.pages) or 'none yet'})")
            state.page_script_hash = self.pages[page]
        elif self.page.page_hash:
            state.page_script_hash = self.page.page_hash
        state.widget_states.widgets.extend(widgets)
        while not self._finished.empty():  # a run nobody waited for (e.g. a component's): stale now
            status, why = self._finished.get_nowait()
            if status is None:
                raise SessionError(f"disconnected: {why}")
        sent = time.perf_counter()
        self.runs_ms = []
        try:
            await self._ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as exc:
            raise SessionError(f"disconnected: {exc}") from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SessionError(f"no finished run within {self.timeout_s:.0f} s")
            try:
                status, rendered = await asyncio.wait_for(self._finished.get(), remaining)
            except asyncio.TimeoutError:
                raise SessionError(f"no finished run within {self.timeout_s:.0f} s") from None
            if status is None:
                raise SessionError(f"disconnected: {rendered}")
            self.runs_ms.append((time.perf_counter() - sent) * 1000)
            if status == FINISHED.FINISHED_EARLY_FOR_RERUN:
                continue  # st.rerun(): the next run follows without a message from us
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                raise SessionError("the script did not compile")
            self.page = rendered
            return rendered

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except websockets.ConnectionClosed as exc:
            await self._finished.put((None, f"websocket closed ({exc.rcvd.code if exc.rcvd else 'no code'})"))
            return
        await self._finished.put((None, "websocket closed by the server"))

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # a script run starts: the page is built again from scratch
            self._current = Page(page_hash=msg.new_session.page_script_hash)
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            self._current.page_hash = msg.navigation.page_script_hash or self._current.page_hash
        elif kind == "delta":
            path = tuple(msg.metadata.delta_path)
            delta = msg.delta
            if delta.WhichOneof("type") == "new_element":
                self._current.elements[path] = delta.new_element
            elif delta.WhichOneof("type") == "add_block":
                self._current.blocks[path] = delta.add_block
        elif kind == "script_finished":
            self._finished.put_nowait((msg.script_finished, self._current))
        elif kind == "ref_hash":  # only for hashes a client says it has cached; this one never does
            self._finished.put_nowait((None, "the server sent a reference to a message this client never cached"))


def text_value(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def trigger(widget_id: str) -> WidgetState:
    """A button press (a form's submit button included)."""
    return WidgetState(id=widget_id, trigger_value=True)


def chat_value(widget_id: str, text: str) -> WidgetState:
    """What st.chat_input sends when the user presses Enter."""
    state = WidgetState(id=widget_id)
    state.chat_input_value.data = text
    return state
