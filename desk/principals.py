"""A short-lived cache of who is behind a token.

Every authenticated request would otherwise spend a thread hop and a query confirming the account still
exists, is active, and still has the token version the token was issued under. Entries live
PRINCIPAL_CACHE_SECONDS (at most one second), so a disabled or deleted account is refused on every worker at
most that long after the change; the worker that disabled it forgets it at once. Only found accounts are
cached. One cache per app (on `app.state`), bounded in size.
"""

from __future__ import annotations

import threading
import time

from desk.accounts import Principal

TTL_SECONDS = 0.5
MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, username: str) -> Principal | None:
        with self._lock:
            hit = self._entries.get(username)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, principal: Principal) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                # Rare (more distinct users than entries within one TTL): start over rather than track age.
                self._entries.clear()
            self._entries[principal.username] = (time.monotonic() + self._ttl, principal)

    def forget(self, username: str) -> None:
        with self._lock:
            self._entries.pop(username, None)
