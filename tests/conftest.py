"""Session-wide test setup: no network beyond loopback, CrewAI kept quiet and offline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pgschema import PostgresUnreachable, throwaway_schema
from tests import network_guard

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_configure(config: pytest.Config) -> None:
    network_guard.install()
    # Same switches the crew sets itself; set here too so any import order is safe.
    for name, value in {
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
        "CREWAI_DISABLE_VERSION_CHECK": "true",
        "APP_ENV": "test",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }.items():
        os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The evaluation data beside the checkout; tests that need it skip cleanly without it."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATASETS} (it is not part of a fresh clone)")
    return SHARED_DATASETS


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A test that takes `database_url` runs on SQLite and, where it is reachable, on PostgreSQL (a throw-away
    schema of the `test` database, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.db'}"
        return
    try:
        with throwaway_schema(PG_URL) as url:
            yield url
    except PostgresUnreachable:
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
