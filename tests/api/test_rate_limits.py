"""Per-customer rate limits: in one process, and shared through Redis by two server processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.api_process import free_port
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.models import Account
from desk.settings import Settings
from security.tokens import create_access_token
from tests.api.conftest import SECRET
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]
ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)


def test_61st_request_is_429_and_other_customers_are_unaffected(
    client: TestClient, make_account: MakeAccount, fake_crew: FakeCrew, settings: Settings
) -> None:
    assert settings.rate_limit_per_minute == 60
    alice = make_account(client, "alice", "customer", "cust-a")
    bob = make_account(client, "bob", "customer", "cust-b")
    statuses = [
        client.post("/support/request", json={"message": f"q{i}"}, headers=alice).status_code for i in range(60)
    ]
    assert statuses == [200] * 60
    over = client.post("/support/request", json={"message": "one more"}, headers=alice)
    assert over.status_code == 429 and over.json()["code"] == "rate_limited"
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert len(fake_crew.calls) == 60  # the rejected request never reached the crew
    assert client.post("/support/request", json={"message": "hi"}, headers=bob).status_code == 200
    events = [json.loads(line)["event"] for line in settings.audit_log_file.read_text().splitlines()]
    assert events.count("rate_limited") == 1


def test_limit_keys_on_the_customer_not_the_caller(
    client: TestClient, make_account: MakeAccount, tmp_path: Path
) -> None:
    """An integrator and the customer itself share the customer's budget; the integrator's other customers don't."""
    client.app.state.limits.__init__("memory://", 3, "10/minute")  # type: ignore[attr-defined]
    alice = make_account(client, "alice", "customer", "cust-a")
    shop = make_account(client, "shop", "integrator")
    assert client.post("/support/request", json={"message": "1"}, headers=alice).status_code == 200
    for _ in range(2):
        assert (
            client.post("/support/request", json={"message": "2", "customer_id": "cust-a"}, headers=shop).status_code
            == 200
        )
    assert client.post("/support/classify", json={"message": "3"}, headers=alice).status_code == 429
    assert (
        client.post("/support/request", json={"message": "4", "customer_id": "cust-q"}, headers=shop).status_code == 200
    )


def _redis_or_skip() -> None:
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                pytest.skip("something on 127.0.0.1:6379 does not answer like Redis")
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379; the shared-limit test needs it")


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    _redis_or_skip()
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with make_session_factory(engine).begin() as session:
        session.add(Account(username="shop", password_hash="unused", role="integrator"))
    engine.dispose()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": db_url,
        "RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATE_LIMIT_PER_MINUTE": "5",
        "AUDIT_LOG_FILE": str(tmp_path / "audit.log"),
        "LOG_FILE": str(tmp_path / "app.log"),
    }
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.api.server_app:create_test_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for base, proc in zip(bases, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass  # still starting
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
        token, _ = create_access_token(
            subject="shop", role="integrator", customer_id=None, secret=SECRET, algorithm="HS256", expires_minutes=5
        )
        yield bases, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


@pytest.mark.redis
@pytest.mark.slow
def test_limit_holds_across_two_server_processes(two_servers: tuple[list[str], str]) -> None:
    bases, token = two_servers
    customer = f"cust-{uuid.uuid4().hex[:12]}"  # fresh key: Redis outlives test runs
    headers = {"Authorization": f"Bearer {token}"}

    def send(base: str, who: str) -> httpx.Response:
        return httpx.post(
            f"{base}/support/request", json={"message": "hi", "customer_id": who}, headers=headers, timeout=10
        )

    statuses = [send(bases[i % 2], customer).status_code for i in range(5)]
    assert statuses == [200] * 5
    for base in bases:
        over = send(base, customer)
        assert over.status_code == 429 and "retry-after" in over.headers
    assert send(bases[1], f"{customer}-other").status_code == 200


def test_a_shared_limit_store_serves_more_concurrent_requests_than_connections() -> None:
    """Past redis-py's default pool size, requests used to fail with 503 rate_limit_storage_unavailable."""
    from concurrent.futures import ThreadPoolExecutor

    from desk.ratelimit import RateLimits
    from desk.redis_pool import POOL_CONNECTIONS

    _redis_or_skip()
    limits = RateLimits("redis://127.0.0.1:6379/15", 1_000_000, "10/minute")
    threads = POOL_CONNECTIONS * 3  # and more than redis-py's 100 of its default pool
    key = f"pool-{uuid.uuid4().hex}"

    def hits(index: int) -> int:
        for _ in range(5):
            limits.hit_customer(f"{key}-{index % 4}")
        return 5

    with ThreadPoolExecutor(max_workers=threads) as pool:
        assert sum(pool.map(hits, range(threads))) == threads * 5  # none refused
