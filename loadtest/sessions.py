"""The students of `python -m loadtest`: browser sessions (streamlit_client.py) that log in through the
login form, open Chat and ask through the chat input, at exponential gaps, recording each answer."""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.measure.eval_coverage import percentiles
from loadtest.client import Page, SessionError, StreamlitSession, chat_value, text_value, trigger


@dataclass
class Asked:
    """One question: when it was sent (s from the start of the run), how long the answer took."""
    session: int
    instance: int
    phase: str
    sent_s: float
    ms: float | None = None
    citations: int = 0
    error: str | None = None
    first_run_ms: float | None = None  # until the run that asked had finished (the rest: showing the answer)
    late_s: float = 0.0  # sent this long after it was due: the session was still waiting for an answer


# ---- one student ---------------------------------------------------------------------------------
class Student:
    """A browser session of one enrolled student: logged in, on the Chat page."""

    def __init__(self, index: int, instance: int, url: str, account: tuple[str, str], timeout_s: float):
        self.index, self.instance, self.url, self.account, self.timeout_s = index, instance, url, account, timeout_s
        self.session: StreamlitSession | None = None

    async def open(self) -> None:
        """Open the app, log in through the login form, go to Chat (a browser's first visit)."""
        await self.close()
        self.session = s = StreamlitSession(self.url, timeout_s=self.timeout_s)
        page = await s.connect()
        email, password = self.account
        page = await s.run([text_value(page.widget("text_input", "Email").id, email),
                            text_value(page.widget("text_input", "Password").id, password),
                            trigger(page.widget("button", "Log in").id)])
        if not any(b.label == "Log out" for b in page.widgets("button")):
            raise SessionError(f"login failed for {email}: {'; '.join(page.errors()) or 'still on the login page'}")
        page = await s.run(page="chat")
        if page.widget("chat_input").disabled:
            raise SessionError("the chat input is disabled (the class has no documents)")

    async def ask(self, question: str, record: Asked, clock: Callable[[], float]) -> None:
        """Ask through the chat input; fill `record` with the latency and what the page showed."""
        try:
            if self.session is None:
                await self.open()
            chat = self.session.page.widget("chat_input")
            record.sent_s = clock()
            started = time.perf_counter()
            page = await self.session.run([chat_value(chat.id, question)])
            record.ms = (time.perf_counter() - started) * 1000
            # the run that asked ends with st.rerun(); the next one shows the stored answer
            record.first_run_ms = self.session.runs_ms[0] if len(self.session.runs_ms) > 1 else None
            record.citations, record.error = answer_shown(page, question)
        except SessionError as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:300]
            await self.close()  # the next question starts a new session, as a reload would

    async def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()


def answer_shown(page: Page, question: str) -> tuple[int, str | None]:
    """(citations, error) of the page after a question: the last user message must be this question,
    followed by an assistant message with an answer; its sources are the "[n] …" expanders."""
    if errors := page.errors():
        return 0, errors[0]
    messages = page.blocks_of("chat_message")
    roles = [block.chat_message.name for _, block in messages[-2:]]
    if roles != ["user", "assistant"]:
        return 0, "no answer after the question"
    asked = " ".join(e.markdown.body for _, e in page.within(messages[-2][0]) if e.WhichOneof("type") == "markdown")
    if asked.replace("\\", "").strip() != question.strip():  # the page escapes Markdown with backslashes
        return 0, "the last question shown is not the one asked"
    inside = [x for _, x in page.within(messages[-1][0])]
    if not any(x.WhichOneof("type") == "markdown" and x.markdown.body.strip() for x in inside):
        return 0, "an empty answer"
    # sources are the expanders under the "Sources" caption (show_sources); "Related material"
    # (for a question the class does not cover) cites nothing
    cited, under_sources = 0, False
    for x in inside:
        body = x.markdown.body.strip() if x.WhichOneof("type") == "markdown" else ""
        if body == "Sources" or body.startswith("Related material"):
            under_sources = body == "Sources"
        elif x.WhichOneof("type") == "expandable" and under_sources:
            cited += 1
    return cited, None


# ---- phases --------------------------------------------------------------------------------------
class Run:
    """The students of one run and everything they asked."""

    def __init__(self, students: list[Student], questions: Sequence[str], seed: int):
        self.students = students
        self.questions = list(questions)
        self.rng = random.Random(seed)
        self.asked: list[Asked] = []
        self.elapsed: dict[str, float] = {}  # phase -> seconds from its start to its last answer
        self.t0 = time.monotonic()

    def clock(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    async def open_all(self) -> None:
        # a few at a time: 20 logins at once would measure bcrypt, not the app
        gate = asyncio.Semaphore(4)

        async def one(st: Student) -> None:
            async with gate:
                await st.open()

        await asyncio.gather(*(one(st) for st in self.students))

    async def warm_up(self) -> list[Asked]:
        """One question per session, not counted: the model loads, the index is built."""
        records = [Asked(st.index, st.instance, "warm-up", 0) for st in self.students]
        await asyncio.gather(*(st.ask(self.rng.choice(self.questions), r, self.clock)
                               for st, r in zip(self.students, records)))
        return records

    async def phase(self, name: str, seconds: float, interval_s: float) -> list[Asked]:
        """Every session asks at exponential gaps (mean interval_s) for `seconds`. A session still
        waiting for its previous answer asks right after it (`late_s` says by how much): so a
        server that cannot keep up stretches the phase, and the rate achieved falls below the offer."""
        start = time.monotonic()
        end = start + seconds
        mine: list[Asked] = []

        async def session(st: Student, rng: random.Random) -> None:
            due = start + rng.expovariate(1 / interval_s)
            while due < end:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                record = Asked(st.index, st.instance, name, 0, late_s=round(max(0.0, time.monotonic() - due), 3))
                mine.append(record)
                await st.ask(rng.choice(self.questions), record, self.clock)
                due += rng.expovariate(1 / interval_s)

        seeds = [self.rng.random() for _ in self.students]
        await asyncio.gather(*(session(st, random.Random(s)) for st, s in zip(self.students, seeds)))
        self.elapsed[name] = max(seconds, time.monotonic() - start)
        self.asked += mine
        return mine

    async def close(self) -> None:
        await asyncio.gather(*(st.close() for st in self.students))


def summary(records: Sequence[Asked], seconds: float, offered_per_s: float | None = None) -> dict:
    """Latency of the answered questions, errors, and the rate achieved over `seconds` (the phase's
    real length, stretched when sessions fell behind)."""
    ok = [r for r in records if r.error is None and r.ms is not None]
    errors = [r for r in records if r.error is not None]
    late = sorted(r.late_s for r in records)
    out = {"questions": len(records), "answered": len(ok), "errors": len(errors),
           "cited": sum(1 for r in ok if r.citations),  # answers with sources (the rest: "not covered")
           "seconds": round(seconds, 1),
           "questions_per_s": round(len(ok) / seconds, 2) if seconds else None,
           "late_p95_s": late[int(0.95 * (len(late) - 1))] if late else None,
           "latency": percentiles([r.ms for r in ok]),
           "asking_run": percentiles([r.first_run_ms for r in ok if r.first_run_ms is not None]),
           "error_examples": sorted({r.error for r in errors})[:5]}
    if offered_per_s is not None:
        out["offered_per_s"] = round(offered_per_s, 2)
    return out
