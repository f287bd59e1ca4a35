"""API test fixtures: a fresh SQLite database and audit log per test, a fake crew, account factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from crew.models import SupportCrew
from desk.db import upgrade_database
from desk.models import Account
from desk.settings import Settings
from security.passwords import hash_password
from security.tokens import create_access_token
from tests.api.fakes import FakeCrew

SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def password_hash() -> str:
    # argon2 costs ~0.2 s: hash once, store it for every account the tests create.
    return hash_password(PASSWORD)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "secret_key": SECRET,
        "database_url": f"sqlite:///{tmp_path / 'desk.db'}",
        "audit_log_file": tmp_path / "audit.log",
        "log_file": tmp_path / "app.log",
        "rate_limit_storage_uri": "memory://",
        "crew_max_workers": 16,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fake_crew() -> FakeCrew:
    return FakeCrew()


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a client on a migrated database: `client_for(settings, crew)`."""
    clients: list[TestClient] = []

    def build(settings: Settings, crew: SupportCrew | None, **kwargs: Any) -> TestClient:
        upgrade_database(settings.database_url)
        client = TestClient(create_app(settings, crew, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: Callable[..., TestClient], settings: Settings, fake_crew: FakeCrew) -> TestClient:
    return client_for(settings, fake_crew)


@pytest.fixture
def make_account(password_hash: str) -> Callable[..., dict[str, str]]:
    """Insert an account into the client's database and return auth headers for it."""

    def make(client: TestClient, username: str, role: str, customer_id: str | None = None) -> dict[str, str]:
        app = client.app
        with app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
            session.add(Account(username=username, password_hash=password_hash, role=role, customer_id=customer_id))
        settings: Settings = app.state.settings  # type: ignore[attr-defined]
        token, _ = create_access_token(
            subject=username,
            role=role,
            customer_id=customer_id,
            secret=SECRET,
            algorithm=settings.algorithm,
            expires_minutes=5,
        )
        return {"Authorization": f"Bearer {token}"}

    return make
