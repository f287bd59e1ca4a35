"""A hosted model built by the desk calls through one connection pool per thread, and the desk's guard still
sees every call from every thread (crew/compat/pool_per_thread.py)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.fake_openai import _Handler, chat_completion, serving

pytestmark = pytest.mark.slow  # imports crewai

THREADS = 6
CALLS_PER_THREAD = 3


class _KeepAliveHandler(_Handler):
    """The fake server, speaking HTTP/1.1 so a client can keep its connection; notes each call's client port."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.calls.append((self.client_address[1], body))  # type: ignore[attr-defined]
        self._send(200, self.server.respond(body, "ok"))


class StampingPolicy:
    """A stand-in for the desk's guard: marks every request body it sees, passes replies through."""

    def __init__(self) -> None:
        self.seen = 0
        self.lock = threading.Lock()

    def prepare_request(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.seen += 1
        return {**body, "user": "guarded"}

    def check_response(self, body: Any) -> Any:
        return body

    def reads_response(self, content: bytes) -> bool:
        return False


def test_each_thread_keeps_its_own_connection_and_every_call_goes_through_the_guard(local_desk) -> None:  # type: ignore[no-untyped-def]
    from crew.compat.pool_per_thread import PerThreadTransport
    from crew.config import CrewConfig
    from crew.llm_factory import build_hosted_llm

    policy = StampingPolicy()
    noted = {"role": "assistant", "content": "noted"}
    with serving(lambda body, mode: chat_completion(body, noted), _KeepAliveHandler) as server:
        server.calls = []  # type: ignore[attr-defined]
        llm = build_hosted_llm("openai/m", CrewConfig(base_url=server.base_url, max_retries=0), policy)
        assert isinstance(llm._get_sync_client()._client._transport, PerThreadTransport)  # type: ignore[attr-defined]
        replies: list[str] = []
        start = threading.Barrier(THREADS)

        def ask() -> None:
            start.wait()
            for i in range(CALLS_PER_THREAD):
                question = f"question {i} from {threading.current_thread().name}"
                replies.append(str(llm.call([{"role": "user", "content": question}])))

        threads = [threading.Thread(target=ask) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        calls = list(server.calls)  # type: ignore[attr-defined]

    calls_made = THREADS * CALLS_PER_THREAD
    assert replies == ["noted"] * calls_made
    assert len(calls) == policy.seen == calls_made and all(body["user"] == "guarded" for _port, body in calls)
    # Each thread made all its calls on one connection of its own.
    ports_of: dict[str, set[int]] = {}
    for port, body in calls:
        ports_of.setdefault(body["messages"][-1]["content"].rsplit(" from ", 1)[1], set()).add(port)
    assert len(ports_of) == THREADS and all(len(used) == 1 for used in ports_of.values())
    assert len(set.union(*ports_of.values())) == THREADS
