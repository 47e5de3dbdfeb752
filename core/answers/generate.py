"""The optional language model's answer: written from the numbered sources, streamed.

Any OpenAI-compatible chat completions endpoint will do (OpenAI, Azure OpenAI's v1 endpoint, Ollama,
vLLM, LM Studio, llama.cpp's server), through the official `openai` client, imported only when a
model is configured: without LLM_BASE_URL the app stays offline and never loads it. Every failure
becomes `GenerationFailed` with a short reason for the student; the caller then shows the
extractive answer. What the model writes is checked afterwards (`core.answers.verify`).
"""
from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from core.answers.model import Citation
from core.events import log_event

# The model starts its reply with this word when the sources do not answer the question; the
# verification recognises it (core/answers/verify.py) and the page hides it (`without_marker`).
NOT_COVERED = "NOT_COVERED"
MAX_TOKENS = 400  # ~300 words: room for a short answer, a bound on a rambling one
TEMPERATURE = 0.1  # near-deterministic: the answer should follow the sources, not vary
HISTORY_TURNS = 2  # earlier (question, answer) pairs sent for follow-ups ("and the second one?")
HISTORY_CHARS = 600  # each earlier answer is shortened to this: context, not material
CONNECT_TIMEOUT_S = 5.0  # a server that does not accept the connection in 5 s is down
# The client honours a server's Retry-After of up to two minutes; a student will not wait that
# long, so a 429 asking for more than this is not retried (the extractive answer is shown instead).
MAX_RETRY_WAIT_S = 5.0

SYSTEM_PROMPT = f"""You answer a student's question about their course, using only the numbered sources \
from the course material in the user's message.

Rules:
1. Use only what the sources say. Never add facts, numbers, names or examples that are not in them, \
even if you know them.
2. End every sentence with the number of the source that supports it in square brackets, like [1] \
or [2][3]. Cite only sources that say what the sentence says.
3. Be short: the direct answer first, then at most a few sentences of explanation. No introduction, \
no closing remarks.
4. Answer in the language of the student's question, even when the sources are in another language.
5. If the sources do not answer the question, reply with {NOT_COVERED} followed by one sentence, in \
the language of the question, saying that the course material does not cover it. Do not answer from \
your own knowledge.
6. Earlier turns of the conversation are context for follow-up questions only; every fact must \
still come from the sources below."""

_CITATION = re.compile(r"\s*\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\]")


class GenerationFailed(Exception):
    """The model gave no answer; `reason` is short and written for the student."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def build_messages(question: str, sources: Sequence[Citation],
                   history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """System rules, the last earlier turns (shortened, their [n] removed: those numbers named other
    sources), then the numbered sources and the question."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for asked, answered in list(history)[-HISTORY_TURNS:]:
        messages.append({"role": "user", "content": _shorten(asked, HISTORY_CHARS)})
        messages.append({"role": "assistant", "content": _shorten(_CITATION.sub("", answered), HISTORY_CHARS)})
    passages = "\n\n".join(f"[{s.n}] {s.label}:\n{s.text.strip()}" for s in sources)
    messages.append({"role": "user", "content": f"Sources:\n\n{passages}\n\nQuestion: {question.strip()}"})
    return messages


def without_marker(text: str) -> str:
    """The reply as the student should see it while it streams: without the NOT_COVERED marker
    (nor a first chunk that could still become it)."""
    stripped = text.lstrip(" \n*_`")  # also "**NOT_COVERED**"
    if stripped.startswith(NOT_COVERED):
        return stripped[len(NOT_COVERED):].lstrip(" :.-\u2014\n*_`")
    return "" if stripped and NOT_COVERED.startswith(stripped) else text


class LLMWriter:
    """One configured model; `stream` yields the answer's text as it arrives."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 30,
                 max_retries: int = 1, max_tokens: int = MAX_TOKENS, temperature: float = TEMPERATURE):
        self.model = model
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = _client(base_url, api_key, timeout_s, max_retries)

    def stream(self, question: str, sources: Sequence[Citation], history: Sequence[tuple[str, str]] = (),
               *, streaming: bool = True) -> Iterator[str]:
        """Text deltas as they arrive; raises GenerationFailed on 429/5xx/timeout/connection errors
        (also mid-stream) and on an empty reply. `streaming=False` asks for one plain completion
        and yields it whole (for callers that do not show the text as it comes)."""
        import openai

        started = time.monotonic()
        produced = False
        try:
            reply = self._client.chat.completions.create(
                model=self.model, messages=build_messages(question, sources, history),
                max_tokens=self.max_tokens, temperature=self.temperature, stream=streaming)
            if not streaming:
                text = reply.choices[0].message.content if reply.choices else None
                produced = bool(text and text.strip())
                if produced:
                    yield text
            else:
                with reply:
                    for chunk in reply:
                        # the read timeout catches a silent server; this catches one that trickles
                        if time.monotonic() - started > self.timeout_s:
                            raise GenerationFailed("the language model did not answer in time")
                        delta = chunk.choices[0].delta.content if chunk.choices else None
                        if delta:
                            produced = True
                            yield delta
            if not produced:
                raise GenerationFailed("the language model returned an empty answer")
        except (openai.OpenAIError, ValueError, GenerationFailed) as exc:
            # ValueError: a reply that is not the JSON the protocol promises (a proxy's error page)
            failed = exc if isinstance(exc, GenerationFailed) else GenerationFailed(_reason(exc))
            log_event("llm_failed", level=logging.WARNING, model=self.model, reason=failed.reason,
                      error=type(exc).__name__, status=getattr(exc, "status_code", None),
                      seconds=round(time.monotonic() - started, 2))
            if failed is exc:
                raise
            raise failed from exc

    def complete(self, question: str, sources: Sequence[Citation], history: Sequence[tuple[str, str]] = ()) -> str:
        """The whole answer in one piece (one plain, non-streamed request)."""
        return "".join(self.stream(question, sources, history, streaming=False))


def make_writer(settings: Any) -> LLMWriter | None:
    """The configured model's writer, or None when LLM_BASE_URL / LLM_MODEL are not set."""
    if not settings.llm_enabled:
        return None
    return LLMWriter(settings.llm_base_url.strip(), settings.llm_model.strip(),
                     api_key=settings.llm_api_key.get_secret_value(), timeout_s=settings.llm_timeout_s,
                     max_retries=settings.llm_max_retries)


def _client(base_url: str, api_key: str, timeout_s: float, max_retries: int):
    import openai

    # Local servers (Ollama, llama.cpp) need no key, but the client insists on one; passing it
    # explicitly also keeps OPENAI_API_KEY / OPENAI_BASE_URL from the environment out of play.
    return _client_class()(base_url=base_url, api_key=api_key or "not-needed", max_retries=max_retries,
                           timeout=openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)))


@functools.cache
def _client_class():
    """openai.OpenAI that does not retry a 429 asking for a longer wait than MAX_RETRY_WAIT_S (the
    client's own limit is two minutes). `_should_retry` is the client's hook for this decision;
    tests/test_generate.py notices if a new `openai` version stops calling it."""
    import openai

    class Client(openai.OpenAI):
        def _should_retry(self, response) -> bool:  # type: ignore[override]
            wait = self._parse_retry_after_header(response.headers)
            if wait is not None and wait > MAX_RETRY_WAIT_S:
                return False
            return super()._should_retry(response)

    return Client


def _reason(exc: Exception) -> str:
    """A short reason the student can read; details go to the log, never to the page."""
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "the language model is busy (rate limit)"
    if isinstance(exc, openai.APITimeoutError):
        return "the language model did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return "the language model could not be reached"
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return "the language model refused the configured key"
    if isinstance(exc, openai.NotFoundError):
        return "the configured language model was not found"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "the language model had a server error"
    if isinstance(exc, openai.APIStatusError):
        return "the language model refused the request"
    if isinstance(exc, ValueError):
        return "the language model's reply could not be read"
    return "the language model stopped with an error"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " \u2026"
