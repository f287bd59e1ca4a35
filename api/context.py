"""Per-request context: the request id (also in a ContextVar so log records carry it, including records
written from threadpool threads, which inherit the context) and the facts the access audit needs."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")


@dataclass
class RequestContext:
    request_id: str
    client: str
    started: float = field(default_factory=time.perf_counter)
    # Filled in by the auth dependency and the support endpoints, read by the access audit.
    actor: str | None = None
    account_id: int | None = None
    role: str | None = None
    customer_id: str | None = None
    route: str | None = None
    case_id: str | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0
