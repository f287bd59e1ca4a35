"""`pool_per_thread(llm)`: each thread that calls a CrewAI OpenAI-family model gets an HTTP connection pool of
its own, instead of all threads sharing the model's one pool.

Private internals used: CrewAI's `OpenAICompletion._get_sync_client()` (as the pass-through does), the OpenAI
SDK's `_client` (its httpx client) and httpx's `Client._transport` (the transport for every URL no proxy
mount claims). Checked by `tests/crew/test_pool_per_thread.py`; if they change, the model keeps its shared
pool (slower, still correct) and `pool_per_thread` logs it.

Why: httpcore's pool looks at every connection it holds each time it assigns a request and each time a
response is closed (expired? idle? a readability poll of each idle socket). A worker runs 30 or more crews at
once, each waiting on a slow model call on its own connection, so every call scanned 30 or more connections,
holding the pool's lock (docs/performance.md, "One connection pool per thread"). A pool per thread holds the
connection or two that thread uses.

How: the httpx client's transport becomes a `PerThreadTransport`, which builds for each thread, at its first
call, a transport like the one it replaces: CrewAI's interceptor transport with the same interceptor when the
desk's guard is on (so every call from every thread still goes through the guard), else httpx's own. They
share one TLS context (a context per thread would load the CA bundle again each time).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

import httpx
from crewai import BaseLLM
from crewai.llms.hooks.transport import HTTPTransport as InterceptorTransport
from crewai.llms.providers.openai.completion import OpenAICompletion

logger = logging.getLogger(__name__)


class PerThreadTransport(httpx.BaseTransport):
    """A transport that hands each request to its thread's own transport, built on the thread's first request."""

    def __init__(self, build: Callable[[], httpx.BaseTransport]) -> None:
        self._build = build
        self._local = threading.local()
        # Every transport built and still alive (a thread's dies with it), for close().
        self._built: weakref.WeakSet[httpx.BaseTransport] = weakref.WeakSet()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport: httpx.BaseTransport | None = getattr(self._local, "transport", None)
        if transport is None:
            transport = self._build()
            self._local.transport = transport
            with self._lock:
                self._built.add(transport)
        return transport.handle_request(request)

    def close(self) -> None:
        with self._lock:
            built = list(self._built)
        for transport in built:
            transport.close()


def pool_per_thread(llm: BaseLLM) -> bool:
    """Give `llm`'s OpenAI client a connection pool per thread. False when `llm` is not CrewAI's OpenAI family
    or its client's transport is not one this module knows how to rebuild."""
    if not isinstance(llm, OpenAICompletion):
        return False
    try:
        http = llm._get_sync_client()._client
    except (AttributeError, ValueError):
        logger.warning("CrewAI's OpenAI client is out of reach; its threads share one connection pool", exc_info=True)
        return False
    shared = getattr(http, "_transport", None)
    # Exactly these two: a subclass of either may do more than this module would rebuild.
    rebuildable = type(shared) in (httpx.HTTPTransport, InterceptorTransport)
    if not isinstance(http, httpx.Client) or not isinstance(shared, httpx.HTTPTransport) or not rebuildable:
        logger.warning("the OpenAI client's transport is a %s; its threads share one connection pool", type(shared))
        return False
    tls = httpx.create_ssl_context()
    interceptor = getattr(shared, "interceptor", None)

    def build() -> httpx.BaseTransport:
        if interceptor is not None:
            return InterceptorTransport(interceptor=interceptor, verify=tls)
        return httpx.HTTPTransport(verify=tls)

    http._transport = PerThreadTransport(build)
    shared.close()
    return True
