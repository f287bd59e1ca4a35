"""F5: the login throttle counts failures per (username, client address), per username and per address, with
the client address taken from X-Forwarded-For only when the socket peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import client_address
from desk.db import upgrade_database
from desk.ratelimit import address_key
from tests.api.conftest import PASSWORD, make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]
PROXY = "10.0.0.1"


@pytest.fixture
def client_at(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """A client whose socket peer is `peer` (TestClient's default is the non-address "testclient")."""
    clients: list[TestClient] = []

    def build(peer: str = PROXY, **overrides: Any) -> TestClient:
        settings = make_settings(tmp_path, **overrides)
        upgrade_database(settings.database_url)
        client = TestClient(create_app(settings, FakeCrew()), raise_server_exceptions=False, client=(peer, 40000))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def _login(client: TestClient, username: str, password: str = PASSWORD, via: str | None = None) -> int:
    headers = {"X-Forwarded-For": via} if via else {}
    return client.post("/auth/token", data={"username": username, "password": password}, headers=headers).status_code


def test_spraying_many_usernames_from_one_address_is_limited(client_at: Callable[..., TestClient]) -> None:
    # Before: the key was (username, address), so one failure on each of many usernames was never limited.
    client = client_at("192.0.2.7", login_address_rate_limit="5/minute")
    assert [_login(client, f"user{i}", "Spring2026!") for i in range(5)] == [401] * 5
    response = client.post("/auth/token", data={"username": "user-next", "password": "Spring2026!"})
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "rate_limited"


def test_successful_logins_are_not_counted(client_at: Callable[..., TestClient], make_account: MakeAccount) -> None:
    client = client_at("192.0.2.7", login_rate_limit="3/minute", login_address_rate_limit="3/minute")
    make_account(client, "alice", "customer", "cust-a")
    assert [_login(client, "alice") for _ in range(6)] == [200] * 6
    assert [_login(client, "alice", "wrong") for _ in range(3)] == [401] * 3
    assert _login(client, "alice") == 429  # now the failures count


def test_behind_a_trusted_proxy_an_attacker_does_not_lock_the_user_out_for_everyone(
    client_at: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    # Before: every client behind the proxy had the proxy's socket address, so the attacker's failures
    # locked alice out for all of them.
    client = client_at(PROXY, login_rate_limit="3/minute", trusted_proxies=[PROXY])
    make_account(client, "alice", "customer", "cust-a")
    attacker, alice_at_home = "203.0.113.5", "198.51.100.7"
    assert [_login(client, "alice", "guess", via=attacker) for _ in range(3)] == [401] * 3
    assert _login(client, "alice", via=attacker) == 429
    assert _login(client, "alice", via=alice_at_home) == 200
    # A hop the client wrote itself (left of what our proxy appended) changes nothing.
    assert _login(client, "alice", "guess", via=f"{alice_at_home}, {attacker}") == 429


def test_forwarded_for_is_ignored_from_an_untrusted_peer(client_at: Callable[..., TestClient]) -> None:
    client = client_at("192.0.2.9", login_rate_limit="3/minute", trusted_proxies=[PROXY])
    statuses = [_login(client, "alice", "guess", via=f"203.0.113.{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_one_username_from_many_addresses_is_limited(client_at: Callable[..., TestClient]) -> None:
    client = client_at(PROXY, login_username_rate_limit="4/minute", trusted_proxies=["10.0.0.0/8"])
    statuses = [_login(client, "alice", "guess", via=f"203.0.113.{i}") for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


def test_client_address_walks_forwarded_for_from_the_right() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert client_address("10.0.0.1", ["1.1.1.1, 203.0.113.5"], trusted) == "203.0.113.5"
    assert client_address("10.0.0.1", ["203.0.113.5, 10.0.0.2"], trusted) == "203.0.113.5"
    assert client_address("10.0.0.1", ["1.1.1.1", "203.0.113.5"], trusted) == "203.0.113.5"  # two headers
    assert client_address("192.0.2.1", ["203.0.113.5"], trusted) == "192.0.2.1"  # untrusted peer
    assert client_address("10.0.0.1", [], trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", ["junk, 10.0.0.3"], trusted) == "10.0.0.3"  # stop at a malformed hop
    assert client_address("10.0.0.1", ["203.0.113.5"], []) == "10.0.0.1"  # no proxies configured
    assert client_address("fd00::1", ["2001:db8::1"], trusted) == "2001:db8::1"


def test_ipv6_addresses_count_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
