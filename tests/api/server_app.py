"""A uvicorn factory for tests that start real server processes: the real app with the fake crew.
`uvicorn tests.api.server_app:create_test_app --factory` (settings from the environment)."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from desk.settings import Settings
from tests.api.fakes import FakeCrew


def create_test_app() -> FastAPI:
    return create_app(Settings(), FakeCrew())
