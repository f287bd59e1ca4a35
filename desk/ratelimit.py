"""Per-customer and login rate limits.

Built on `limits`, the library slowapi wraps: its storage (`memory://`, `redis://...` from
RATE_LIMIT_STORAGE_URI) and its moving-window strategy. slowapi's decorator is not used because it keys
on the raw `Request` before the body is parsed and wants a module-level `Limiter`; here the key is the
customer the request acts for, which is known only after authentication and body validation. So the
limiter is an object created per app (`app.state.limits`) and called from the endpoints.
"""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.storage import MemoryStorage, StorageTypes, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from desk.errors import RateLimited, ServiceUnavailable

NAMESPACE = "support-desk"
LIMIT_STORE_DOWN = "rate_limit_storage_unavailable"
EXPIRE_EVERY_SECONDS = 1.0


class InlineExpiryMemoryStorage(MemoryStorage):
    """`memory://` without a thread per request.

    limits' MemoryStorage expires old entries on a `threading.Timer` (10 ms) that it starts again on a hit
    whenever the last one has fired, so with requests more than 10 ms apart every hit starts a new thread
    (~0.4 ms of CPU per request, measured). Expiry only frees memory (the moving window compares timestamps
    itself, and a fixed window checks its own expiry), so here it runs inline on the hitting thread, at most
    once per EXPIRE_EVERY_SECONDS, and never on two threads at once.
    """

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._expiry_lock = threading.Lock()
        self._next_expiry = time.monotonic() + EXPIRE_EVERY_SECONDS

    # Overrides MemoryStorage's private `__schedule_expiry` (name-mangled), which every hit calls.
    # tests/api/test_rate_limits.py fails if a limits release stops calling it or starts threads again.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if time.monotonic() < self._next_expiry or not self._expiry_lock.acquire(blocking=False):
            return
        try:
            self._next_expiry = time.monotonic() + EXPIRE_EVERY_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._expiry_lock.release()


def make_storage(storage_uri: str) -> StorageTypes:
    if storage_uri.startswith("memory://"):
        return InlineExpiryMemoryStorage(storage_uri)
    return storage_from_string(storage_uri)


class RateLimits:
    def __init__(self, storage_uri: str, per_minute: int, login_limit: str) -> None:
        self.storage = make_storage(storage_uri)
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._support: RateLimitItem = RateLimitItemPerMinute(per_minute, namespace=NAMESPACE)
        self._login: RateLimitItem = parse(login_limit)

    def _hit(self, item: RateLimitItem, *identifiers: str) -> None:
        try:
            allowed = self._strategy.hit(item, NAMESPACE, *identifiers)
        except Exception as exc:
            # Fail closed here: without the shared counter the limit cannot be enforced. The intake lets
            # emergencies through all the same (desk/intake.py, limit_unless_emergency).
            raise ServiceUnavailable(code=LIMIT_STORE_DOWN) from exc
        if not allowed:
            reset = self._strategy.get_window_stats(item, NAMESPACE, *identifiers).reset_time
            raise RateLimited(retry_after=math.ceil(reset - time.time()))

    def hit_customer(self, key: str) -> None:
        """Count one support request for `key` (a customer id or `account:<id>`); raises RateLimited."""
        self._hit(self._support, "support", key)

    def hit_login(self, username: str, address: str) -> None:
        self._hit(self._login, "login", username.lower(), address)

    def healthy(self) -> bool:
        return bool(self.storage.check())
