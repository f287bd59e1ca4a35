"""A fake OpenAI-compatible server on 127.0.0.1 for the hosted-model tests: it records every request and
answers with what the test's `respond(body, mode)` builds, or fails as `mode` says (500, 429, garbage, slow)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_SECONDS = 3.0
Respond = Callable[[dict[str, Any], str], dict[str, Any]]


def chat_completion(body: dict[str, Any], message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    """A chat completion carrying `message`, in the shape the OpenAI SDK parses."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Respond, handler: type[BaseHTTPRequestHandler] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), handler or _Handler)
        self.respond = respond
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def serving(respond: Respond, handler: type[BaseHTTPRequestHandler] | None = None) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(respond, handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with self.server.lock:
            self.server.requests.append(body)
        mode = self.server.mode
        if mode == "500":
            return self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
        if mode == "429":
            return self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": "0"})
        if mode == "garbage":
            return self._send_raw(200, b"<html>not json</html>")
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        return self._send(200, self.server.respond(body, mode))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers)

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timeout test)
