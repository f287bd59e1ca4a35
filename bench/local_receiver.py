"""A small webhook receiver on 127.0.0.1 for the benchmark, the tests and trying the paging out locally.

It checks each page's signature with `signing.verify`, keeps what arrived (time, headers, JSON), and can
be taken down and brought back up on the same port, or told to answer with an error status. Not a
production receiver: a real one de-duplicates by the `Idempotency-Key` header (see docs/oncall.md).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from desk.oncall.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Received:
    arrived: float  # time.perf_counter() at arrival
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int  # what the receiver answered

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def idempotency_key(self) -> str:
        return self.headers.get(IDEMPOTENCY_HEADER.lower(), "")


@dataclass
class _State:
    secret: str
    status: int = 200
    received: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 (the default): one connection per page, so `down()` really cuts every connection off.

        def do_POST(self) -> None:
            arrived = time.perf_counter()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = verify(state.secret, headers.get(SIGNATURE_HEADER.lower(), ""), body, now=time.time())
            with state.changed:
                status = state.status
                state.received.append(Received(arrived, self.path, headers, body, ok, status))
                state.changed.notify_all()
            reply = b'{"ok":true}' if status < 300 else b'{"ok":false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the receiver's own access log is noise in tests and benchmarks."""

    return Handler


class LocalReceiver:
    """`with LocalReceiver(secret) as receiver:` listens at `receiver.url` until the block ends.

    `LocalReceiver(secret, start=False)` reserves the port without listening: connections are refused (the
    receiver is "down") until `up()`.
    """

    def __init__(self, secret: str, *, start: bool = True, path: str = "/page") -> None:
        self._state = _State(secret)
        self._reserved: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._reserved.bind(("127.0.0.1", 0))
        self.port: int = self._reserved.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if start:
            self.up()

    def __enter__(self) -> LocalReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def up(self) -> None:
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self._state), bind_and_activate=False)
        server.daemon_threads = True
        if self._reserved is not None:
            # First start: listen on the socket that has held the port since construction (no race for it).
            server.socket.close()
            server.socket, self._reserved = self._reserved, None
        else:
            server.allow_reuse_address = True
            server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"receiver-{self.port}", daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: new connections are refused until `up()`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def close(self) -> None:
        self.down()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    def answer_with(self, status: int) -> None:
        with self._state.changed:
            self._state.status = status

    @property
    def received(self) -> list[Received]:
        with self._state.changed:
            return list(self._state.received)

    def delivered(self) -> list[Received]:
        """Pages the receiver accepted (answered 2xx)."""
        return [r for r in self.received if r.status < 300]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        with self._state.changed:
            return self._state.changed.wait_for(lambda: predicate(list(self._state.received)), timeout)
