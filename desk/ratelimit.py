"""Per-customer and login rate limits.

Built on `limits`, the library slowapi wraps: its storage (`memory://`, `redis://...` from
RATE_LIMIT_STORAGE_URI) and its moving-window strategy. slowapi's decorator is not used because it keys
on the raw `Request` before the body is parsed and wants a module-level `Limiter`; here the key is the
customer the request acts for, which is known only after authentication and body validation. So the
limiter is an object created per app (`app.state.limits`) and called from the endpoints.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from desk.errors import RateLimited, ServiceUnavailable

NAMESPACE = "support-desk"
LIMIT_STORE_DOWN = "rate_limit_storage_unavailable"


class RateLimits:
    def __init__(self, storage_uri: str, per_minute: int, login_limit: str) -> None:
        # `memory://` starts a short-lived expiry thread on a hit after a quiet spell; measured too cheap to be
        # worth overriding limits' private scheduling for (docs/performance.md).
        self.storage = storage_from_string(storage_uri)
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
