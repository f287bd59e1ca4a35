"""Per-customer and login rate limits.

Logins count failures only (a correct password is never counted, so a user who logs in often is not
limited), against three moving windows, and an attempt is refused (429) while any of them is full:
- LOGIN_RATE_LIMIT per (username, client address): guessing one account's password from one place;
- LOGIN_USERNAME_RATE_LIMIT per username over every address: guessing spread over many addresses. Set it
  well above the first: reaching it locks the account for everyone until the window moves on;
- LOGIN_ADDRESS_RATE_LIMIT per client address over every username: spraying one password at many accounts.
The client address is the socket peer, or the X-Forwarded-For hop a trusted proxy reports
(`api.middleware.client_address`); IPv6 addresses count per /64, the block one host usually holds.
Usernames are keyed by a hash, so what someone typed (perhaps a password) is never a key in the store.

Built on `limits`, the library slowapi wraps: its storage (`memory://`, `redis://...` from
RATE_LIMIT_STORAGE_URI) and its moving-window strategy. slowapi's decorator is not used because it keys
on the raw `Request` before the body is parsed and wants a module-level `Limiter`; here the key is the
customer the request acts for, which is known only after authentication and body validation. So the
limiter is an object created per app (`app.state.limits`) and called from the endpoints.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from desk.errors import RateLimited, ServiceUnavailable
from desk.redis_pool import blocking_pool, uses_pool

NAMESPACE = "support-desk"
LIMIT_STORE_DOWN = "rate_limit_storage_unavailable"


def username_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimits:
    def __init__(
        self,
        storage_uri: str,
        per_minute: int,
        login_limit: str,
        login_username_limit: str = "100/hour",
        login_address_limit: str = "30/minute",
    ) -> None:
        # `memory://` starts a short-lived expiry thread on a hit after a quiet spell; measured too cheap to be
        # worth overriding limits' private scheduling for (docs/performance.md).
        # A Redis store gets a blocking pool (desk/redis_pool.py): the default one refuses commands under load.
        self.storage = (
            RedisStorage(storage_uri, connection_pool=blocking_pool(storage_uri))
            if uses_pool(storage_uri)
            else storage_from_string(storage_uri)
        )
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._support: RateLimitItem = RateLimitItemPerMinute(per_minute, namespace=NAMESPACE)
        self._login: RateLimitItem = parse(login_limit)
        self._login_username: RateLimitItem = parse(login_username_limit)
        self._login_address: RateLimitItem = parse(login_address_limit)

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self._strategy.get_window_stats(item, NAMESPACE, *identifiers).reset_time
        return math.ceil(reset - time.time())

    def _hit(self, item: RateLimitItem, *identifiers: str) -> None:
        try:
            allowed = self._strategy.hit(item, NAMESPACE, *identifiers)
            if not allowed:
                raise RateLimited(retry_after=self._retry_after(item, *identifiers))
        except RateLimited:
            raise
        except Exception as exc:
            # Fail closed here: without the shared counter the limit cannot be enforced. The intake lets
            # emergencies through all the same (desk/intake.py, limit_unless_emergency).
            raise ServiceUnavailable(code=LIMIT_STORE_DOWN) from exc

    def _login_windows(self, username: str, address: str) -> tuple[tuple[RateLimitItem, tuple[str, ...]], ...]:
        user, where = username_key(username), address_key(address)
        return (
            (self._login, ("login", user, where)),
            (self._login_username, ("login-user", user)),
            (self._login_address, ("login-addr", where)),
        )

    def hit_customer(self, key: str) -> None:
        """Count one support request for `key` (a customer id or `account:<id>`); raises RateLimited."""
        self._hit(self._support, "support", key)

    def check_login(self, username: str, address: str) -> None:
        """Raise RateLimited while any login window of this username or address is full (counts nothing)."""
        try:
            full = [
                (item, ids)
                for item, ids in self._login_windows(username, address)
                if not self._strategy.test(item, NAMESPACE, *ids)
            ]
            if full:
                raise RateLimited(retry_after=max(self._retry_after(item, *ids) for item, ids in full))
        except RateLimited:
            raise
        except Exception as exc:
            raise ServiceUnavailable(code=LIMIT_STORE_DOWN) from exc

    def count_login_failure(self, username: str, address: str) -> None:
        """Count one failed login in every window (a full window is not an error here: the attempt is over)."""
        try:
            for item, ids in self._login_windows(username, address):
                self._strategy.hit(item, NAMESPACE, *ids)
        except Exception as exc:
            raise ServiceUnavailable(code=LIMIT_STORE_DOWN) from exc

    def healthy(self) -> bool:
        return bool(self.storage.check())
