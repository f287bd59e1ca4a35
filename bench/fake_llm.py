"""A fake OpenAI-compatible server on 127.0.0.1 that answers every call after a fixed delay.

Pure asyncio (HTTP/1.1 with keep-alive, no framework): each call is a coroutine sleeping `delay`
seconds, so hundreds of calls wait at once and the server itself never caps concurrency. It runs on its
own event loop in a background thread of the harness, counts calls and records the peak number of calls
in flight, which tells whether the desk ever had more than N model calls outstanding.

    with FakeLLMServer(delay=1.0) as server:
        server.base_url          # http://127.0.0.1:<port>/v1
        server.stats()           # FakeStats(calls=..., peak_in_flight=..., errors=...)
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from dataclasses import dataclass
from types import TracebackType

from bench.fake_answers import completion, customer_text

_MAX_HEADER_BYTES = 65536


@dataclass(frozen=True)
class FakeStats:
    calls: int
    peak_in_flight: int
    errors: int
    calls_by_message: dict[str, int]  # customer text (from the prompt's fence) -> calls that carried it


class FakeLLMServer:
    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self._calls = 0
        self._by_message: Counter[str] = Counter()
        self._errors = 0
        self._in_flight = 0
        self._peak = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._started = threading.Event()

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._serve, name="fake-llm", daemon=True)
        self._thread.start()
        if not self._started.wait(10) or not self._port:
            raise RuntimeError("the fake model server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def stats(self) -> FakeStats:
        with self._lock:
            return FakeStats(self._calls, self._peak, self._errors, dict(self._by_message))

    def reset(self) -> None:
        with self._lock:
            self._calls = self._errors = self._peak = 0
            self._by_message.clear()

    # --- serving ---------------------------------------------------------------------------------------
    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            # Large backlog: 128+ clients connect at once when a load level starts.
            self._server = loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=2048))
            self._port = self._server.sockets[0].getsockname()[1]
            self._started.set()
            loop.run_forever()
        finally:
            self._started.set()
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_HEADER_BYTES:
                    break
                method, path, headers = _parse_head(head)
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                status, payload = await self._respond(method, path, body)
                keep_alive = headers.get("connection", "keep-alive").lower() != "close"
                writer.write(_response(status, payload, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client closed the connection: normal end of a keep-alive session
        except asyncio.CancelledError:
            pass  # the server is stopping; ending quietly keeps asyncio from logging each open connection
        finally:
            writer.close()

    async def _respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return 404, b'{"error": {"message": "not found"}}'
        with self._lock:
            self._calls += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        try:
            await asyncio.sleep(self.delay)
            try:
                request = json.loads(body or b"{}")
                with self._lock:
                    self._by_message[customer_text(request)] += 1
                return 200, json.dumps(completion(request)).encode()
            except (ValueError, KeyError, TypeError, AttributeError):
                with self._lock:
                    self._errors += 1
                return 400, b'{"error": {"message": "bad request", "type": "invalid_request_error"}}'
        finally:
            with self._lock:
                self._in_flight -= 1


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = ([*lines[0].split(" ", 2), "", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


def _response(status: int, payload: bytes, keep_alive: bool) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + payload
