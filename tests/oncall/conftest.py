"""On-call fixtures: fast paging settings, a real webhook receiver on 127.0.0.1, apps on one database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.local_receiver import LocalReceiver
from crew.models import SupportCrew
from desk.db import upgrade_database
from desk.models import Account
from desk.settings import Settings
from security.passwords import hash_password
from security.tokens import create_access_token
from tests.api.conftest import PASSWORD, SECRET, make_settings
from tests.oncall.fakes import RecordingCrew

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"
# Generous: the worker normally delivers in milliseconds, but CI machines stall.
DEADLINE = 20.0


def fast_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "oncall_webhook_secret": WEBHOOK_SECRET,
        "oncall_retry_base_seconds": 0.05,
        "oncall_retry_max_seconds": 0.2,
        "oncall_worker_poll_seconds": 0.05,
        "oncall_delivery_timeout_seconds": 2.0,
        "oncall_ack_timeout_seconds": 60.0,
        "oncall_max_repages": 2,
        "public_base_url": "https://desk.example.test",
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver(WEBHOOK_SECRET) as running:
        yield running


@pytest.fixture
def crew() -> RecordingCrew:
    return RecordingCrew()


@pytest.fixture
def apps() -> Iterator[Callable[..., TestClient]]:
    """`apps(settings, crew)`: a started app (lifespan entered, so its worker runs) on a migrated database.
    Call `.__exit__(None, None, None)` on one to stop it early, as a restart would."""
    started: list[TestClient] = []

    def build(settings: Settings, crew: SupportCrew | None, **kwargs: Any) -> TestClient:
        upgrade_database(settings.database_url)
        client = TestClient(create_app(settings, crew, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        started.append(client)
        return client

    yield build
    for client in started:
        client.__exit__(None, None, None)


def auth(username: str, role: str, customer_id: str | None = None) -> dict[str, str]:
    token, _ = create_access_token(
        subject=username, role=role, customer_id=customer_id, secret=SECRET, algorithm="HS256", expires_minutes=5
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def account(password_hash: str) -> Callable[..., dict[str, str]]:
    """Insert an account into the client's database and return auth headers for it."""

    def make(client: TestClient, username: str, role: str, customer_id: str | None = None) -> dict[str, str]:
        with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
            session.add(Account(username=username, password_hash=password_hash, role=role, customer_id=customer_id))
        return auth(username, role, customer_id)

    return make
