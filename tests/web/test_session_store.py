"""The server-side session keys behind `?s=` (web_interface/session_store.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from tests.web.fakes import auth_session
from web_interface.session_store import GUEST_PREFIX, SessionStore, client_fingerprint, new_guest_id

HERE = client_fingerprint("203.0.113.5", "Firefox")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_key_resumes_its_session_only_from_its_client() -> None:
    store = SessionStore(3600)
    auth = auth_session()
    key = store.create(client=HERE, auth=auth)
    assert len(key) >= 32 and key != auth.access_token
    found = store.get(key, HERE)
    assert found is not None and found.auth == auth
    assert store.get(key, client_fingerprint("198.51.100.7", "Firefox")) is None  # a link shared elsewhere
    assert store.get(key, client_fingerprint("203.0.113.5", "Chrome")) is None
    assert store.get(key, HERE) is not None  # a wrong client does not end it for the right one
    assert store.get("guessed", HERE) is None


def test_a_key_ends_with_its_ttl_or_its_token_and_on_sign_out() -> None:
    clock = Clock()
    store = SessionStore(600, clock=clock)
    guest = store.create(client=HERE, guest_id=new_guest_id())
    signed_in = store.create(client=HERE, auth=auth_session())  # its token expires in 30 min; the TTL is 10
    clock.now += timedelta(seconds=599)
    assert store.get(guest, HERE) is not None and store.get(signed_in, HERE) is not None
    clock.now += timedelta(seconds=2)
    assert store.get(guest, HERE) is None and store.get(signed_in, HERE) is None
    assert len(store) == 0
    short = SessionStore(3600, clock=lambda: datetime.now(UTC))
    token = auth_session().model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    assert short.get(short.create(client=HERE, auth=token), HERE) is None  # never outlives its API token
    key = short.create(client=HERE, auth=auth_session())
    short.drop(key)
    assert short.get(key, HERE) is None


def test_the_store_is_bounded() -> None:
    clock = Clock()
    store = SessionStore(600, max_sessions=3, clock=clock)
    keys = []
    for _ in range(3):
        keys.append(store.create(client=HERE))
        clock.now += timedelta(seconds=1)
    newest = store.create(client=HERE)
    assert len(store) == 3
    assert store.get(keys[0], HERE) is None  # the one closest to its end went
    assert store.get(newest, HERE) is not None


def test_seen_marks_only_move_forward() -> None:
    store = SessionStore(600)
    key = store.create(client=HERE)
    later = datetime(2025, 1, 15, 12, 5, tzinfo=UTC)
    store.mark_seen(key, "c-1", later)
    store.mark_seen(key, "c-1", later - timedelta(minutes=1))
    assert store.seen(key) == {"c-1": later}
    store.mark_seen(None, "c-1", later)  # no key: nothing to keep
    assert store.seen(None) == {}


def test_guest_ids_are_random_and_marked() -> None:
    ids = {new_guest_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith(GUEST_PREFIX) and len(i) == len(GUEST_PREFIX) + 20 for i in ids)


def test_the_store_is_safe_across_threads() -> None:
    store = SessionStore(600)
    keys: list[str] = []

    def work() -> None:
        for _ in range(200):
            key = store.create(client=HERE)
            store.mark_seen(key, "c", datetime.now(UTC))
            keys.append(key)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 800 == len(store)


def test_the_service_token_is_shared_until_it_is_about_to_expire() -> None:
    store = SessionStore(600)
    auth = auth_session()
    store.set_service_auth(auth)
    assert store.service_auth() == auth
    store.set_service_auth(auth.model_copy(update={"expires_at": datetime.now(UTC) + timedelta(seconds=10)}))
    assert store.service_auth() is None
