"""The same flow against the real PostgreSQL server on 127.0.0.1:5432, in a throw-away schema."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench.pgschema import PostgresUnreachable, throwaway_schema
from desk.commands import audit_verify
from desk.db import process_engine
from tests.api.conftest import make_settings
from tests.api.fakes import FailingCrew, FakeCrew

BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MakeAccount = Callable[..., dict[str, str]]


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        with throwaway_schema(BASE_URL) as url:
            yield url
    except PostgresUnreachable:
        pytest.skip(f"PostgreSQL is not reachable at {BASE_URL}")


@pytest.mark.postgres
def test_request_case_and_audit_on_postgres(
    pg_url: str, tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    settings = make_settings(tmp_path, database_url=pg_url)
    client = client_for(settings, FakeCrew())
    headers = make_account(client, "alice", "customer", "cust-a")
    body = client.post(
        "/support/request", json={"message": "<b>charged</b> twice", "context": {"plan": "pro"}}, headers=headers
    ).json()
    case = client.get(f"/support/cases/{body['case_id']}", headers=headers).json()
    assert case["sanitised"] is True and case["messages"][0]["text"] == "charged twice"
    assert client.get("/support/cases", params={"status": "answered"}, headers=headers).json()["total"] == 1
    staff = make_account(client, "sam", "staff")
    assert client.get("/support/status", headers=staff).json()["routing_counts"] == {"billing": 1}
    assert client.get("/readyz").status_code == 200

    failing = client_for(settings, FailingCrew())
    response = failing.post("/support/request", json={"message": "x"}, headers=headers)
    assert response.status_code == 502
    failed = client.get(f"/support/cases/{response.headers['x-case-id']}", headers=headers).json()
    assert failed["status"] == "failed"

    class Args:
        file = None

    assert audit_verify(Args(), settings) == 0  # type: ignore[arg-type]


@pytest.mark.postgres
def test_database_pool_settings_cap_the_connections_a_process_opens(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=pg_url, database_pool_size=2, database_max_overflow=1)
    engine = process_engine(settings, needed=20)
    held = [engine.connect() for _ in range(3)]
    fourth = threading.Event()

    def connect_a_fourth() -> None:
        with engine.connect():
            fourth.set()

    threading.Thread(target=connect_a_fourth, daemon=True).start()
    try:
        assert not fourth.wait(0.5), "a fourth connection opened past pool size 2 + overflow 1"
        held.pop().close()
        assert fourth.wait(10), "the fourth caller did not get the connection given back"
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
