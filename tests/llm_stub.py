"""A stand-in OpenAI-compatible server on 127.0.0.1 for the tests: real HTTP, scripted replies.

`POST /v1/chat/completions` answers with the next scripted `Reply` (the last one repeats), and
every request is recorded (path, headers, JSON body) so a test can check what the app sent:

    with LLMStub() as stub:
        stub.script(Reply.stream("The Calvin cycle takes place in the stroma [1]."))
        ... LLMWriter(stub.base_url, "stub-model", ...) ...
        assert "stroma" in stub.requests[0].body["messages"][-1]["content"]
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    kind: str  # json | sse | status | hang
    text: str = ""
    chunks: tuple[str, ...] = ()
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    silence_s: float = 0.0  # hang, or sse after its chunks: how long the server says nothing
    delay_s: float = 0.0  # sse: pause between chunks

    @classmethod
    def plain(cls, text: str) -> "Reply":
        """One JSON chat completion (the reply to a non-streamed request)."""
        return cls("json", text=text)

    @classmethod
    def stream(cls, text: str, size: int = 7, delay_s: float = 0.0) -> "Reply":
        """Server-sent events: the text in `size`-character pieces, then `data: [DONE]`."""
        return cls("sse", chunks=tuple(text[i:i + size] for i in range(0, len(text), size)), delay_s=delay_s)

    @classmethod
    def error(cls, status: int, retry_after: str | None = None) -> "Reply":
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls("status", status=status, headers=headers)

    @classmethod
    def hang(cls, seconds: float = 5.0) -> "Reply":
        """Accept the request and say nothing for `seconds` (past any test client's timeout)."""
        return cls("hang", silence_s=seconds)

    @classmethod
    def stream_then_hang(cls, text: str, seconds: float = 5.0) -> "Reply":
        """Stream `text` in one chunk, then go silent mid-answer."""
        return cls("sse", chunks=(text,), silence_s=seconds)


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])


class LLMStub:
    def __init__(self, model: str = "stub-model"):
        self.model = model
        self.requests: list[Recorded] = []
        self._script: list[Reply] = [Reply.stream("Nothing scripted.")]
        self._lock = threading.Lock()
        self._stop = threading.Event()  # wakes hanging handlers at shutdown
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # a short poll interval: shutdown() waits for the next poll, 0.5 s by default
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script = list(replies)

    def __enter__(self) -> "LLMStub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> Reply:
        with self._lock:
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: the body ends when it closes

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def do_POST(self) -> None:
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout, a test's early stop): expected here

            def _answer(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                reply = stub._next()
                if reply.kind == "status":
                    return self._json(reply.status, {"error": {"message": f"scripted {reply.status}",
                                                               "type": "server_error"}}, reply.headers)
                if reply.kind == "hang":
                    stub._stop.wait(reply.silence_s)
                    return None
                if reply.kind == "json":
                    return self._json(200, stub._completion(reply.text))
                return self._sse(reply)

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self._event(stub._chunk({"role": "assistant", "content": ""}))
                for piece in reply.chunks:
                    self._event(stub._chunk({"content": piece}))
                    if reply.delay_s:
                        time.sleep(reply.delay_s)
                if reply.silence_s:
                    stub._stop.wait(reply.silence_s)
                    return
                self._event(stub._chunk({}, finish="stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

        return Handler

    def _completion(self, text: str) -> dict:
        return {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    def _chunk(self, delta: dict, finish: str | None = None) -> dict:
        return {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
