"""A short-lived cache of who is behind a token.

Every authenticated request would otherwise spend a thread hop and a query confirming the account still
exists, is active, and still has the token version the token was issued under. Entries live
PRINCIPAL_CACHE_SECONDS (at most one second), so a disabled or deleted account is refused on every worker at
most that long after the change; the worker that disabled it forgets it at once. Only found accounts are
cached. One cache per app (on `app.state`), bounded in size.

Requests that miss the cache for the same account at the same time share one lookup (`get_or_load`): an
integrator's hundreds of requests per second would otherwise all miss together each time its entry expires and
each run the same query. A lookup that started before `forget` is not cached (its answer may predate the
change), though the requests already waiting on it still get that answer, as they would have one moment earlier.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from desk.accounts import Principal

Loader = Callable[[], Awaitable[Principal | None]]

TTL_SECONDS = 0.5
MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        # Lookups in flight, per event loop (an asyncio task belongs to one loop; tests run several).
        self._loading: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Task[Principal | None]] = {}
        # Bumped by `forget`: a lookup that started under an older generation is not cached.
        self._generation = 0

    def get(self, username: str) -> Principal | None:
        with self._lock:
            hit = self._entries.get(username)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    async def get_or_load(self, username: str, load: Loader) -> Principal | None:
        """The cached principal, else the answer of the lookup in flight for `username`, else of a new one."""
        hit = self.get(username)
        if hit is not None:
            return hit
        key = (asyncio.get_running_loop(), username)
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load, self._generation))
            self._loading[key] = pending
        # Shielded: one caller giving up (its client went away) must not cancel the others' lookup.
        return await asyncio.shield(pending)

    async def _load(
        self, key: tuple[asyncio.AbstractEventLoop, str], load: Loader, generation: int
    ) -> Principal | None:
        try:
            principal = await load()
        finally:
            self._loading.pop(key, None)
        if principal is not None:
            self._put(principal, generation)
        return principal

    def _put(self, principal: Principal, generation: int) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return  # looked up before a `forget`: possibly stale
            if len(self._entries) >= self._max:
                # Rare (more distinct users than entries within one TTL): start over rather than track age.
                self._entries.clear()
            self._entries[principal.username] = (time.monotonic() + self._ttl, principal)

    def forget(self, username: str) -> None:
        with self._lock:
            self._entries.pop(username, None)
            self._generation += 1
