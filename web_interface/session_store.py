"""Server-side browser sessions: what lets a signed-in person (or a guest) survive a reload or open a deep link.

A Streamlit session lives as long as its WebSocket: a reload (F5), a bookmark or a link opened in a new tab
starts a new one with empty `st.session_state`. So the app gives each browser session a random key, keeps it
in the URL (`?s=<key>`), and keeps what the key stands for here, in this process:

    key -> the person's AuthSession (their API token) or a guest identity, the client it was issued to,
           when it ends, and which message of each case this session has seen (the unread markers)

The key is not the API token: it means nothing outside this process, it ends on sign-out, after
`WEB_SESSION_TTL_SECONDS` and when the token expires, and a restart forgets every key. It only resumes from
the client it was issued to (the same IP address and browser, as Streamlit reports them), so a link copied
with the key in it does not sign in someone on another machine. README, "The web app", has the trade-off.

One `SessionStore` per process, built through `st.cache_resource` (web_interface/session.py), guarded by a
lock: Streamlit runs every browser session's script on its own thread.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from web_interface.api_client import AuthSession

GUEST_PREFIX = "guest-"
MAX_SESSIONS = 10_000  # a bound on memory: past it the session closest to its end is dropped


def new_guest_id() -> str:
    """A guest's own customer ID: `guest-` and 80 random bits, which no one can guess or type to reach."""
    return f"{GUEST_PREFIX}{secrets.token_hex(10)}"


def client_fingerprint(ip_address: str | None, user_agent: str | None) -> str:
    """Who a key was issued to, as far as the server can tell (both can be spoofed: this stops a shared link,
    not an attacker who already has the key and the victim's network)."""
    return hashlib.sha256(f"{ip_address or ''}\n{user_agent or ''}".encode()).hexdigest()


@dataclass
class StoredSession:
    client: str
    started_at: datetime
    expires_at: datetime
    auth: AuthSession | None = None
    guest_id: str | None = None
    # case ID -> the newest activity of that case this browser session has seen (web_interface/unread.py)
    seen: dict[str, datetime] = field(default_factory=dict)


class SessionStore:
    """Session key -> `StoredSession`, process-local, with a time to live. Thread-safe."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max = max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, StoredSession] = {}
        self._service: AuthSession | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expiry(self, auth: AuthSession | None) -> datetime:
        end = self._clock() + self._ttl
        return min(end, auth.expires_at) if auth is not None else end

    def create(self, *, client: str, auth: AuthSession | None = None, guest_id: str | None = None) -> str:
        """A new key for a signed-in person (`auth`) or a guest (`guest_id`). Every sign-in gets a new key, so a
        key known before signing in (say a guest's) never becomes a signed-in one."""
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._sweep()
            while len(self._sessions) >= self._max:
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].expires_at)]
            self._sessions[key] = StoredSession(
                client=client, started_at=self._clock(), expires_at=self._expiry(auth), auth=auth, guest_id=guest_id
            )
        return key

    def get(self, key: str, client: str) -> StoredSession | None:
        """The session of `key` if it is live and was issued to this client; else None (an expired one is
        dropped; one from another client is left alone, so a guessed or leaked key cannot end it either)."""
        with self._lock:
            stored = self._sessions.get(key)
            if stored is None:
                return None
            if stored.expires_at <= self._clock():
                del self._sessions[key]
                return None
            if not secrets.compare_digest(stored.client, client):
                return None
            return stored

    def drop(self, key: str | None) -> None:
        if key:
            with self._lock:
                self._sessions.pop(key, None)

    def mark_seen(self, key: str | None, case_id: str, when: datetime) -> None:
        if not key:
            return
        with self._lock:
            stored = self._sessions.get(key)
            if stored is not None and (case_id not in stored.seen or stored.seen[case_id] < when):
                stored.seen[case_id] = when

    def seen(self, key: str | None) -> dict[str, datetime]:
        with self._lock:
            stored = self._sessions.get(key or "")
            return dict(stored.seen) if stored is not None else {}

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]

    # -- the web integrator account guests act through: one token for the process, not one sign-in per guest

    def service_auth(self) -> AuthSession | None:
        with self._lock:
            if self._service is not None and self._service.expired(self._clock() + timedelta(seconds=30)):
                self._service = None
            return self._service

    def set_service_auth(self, auth: AuthSession | None) -> None:
        with self._lock:
            self._service = auth
