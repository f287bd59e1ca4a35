"""Fixtures for the web interface tests: a fake API injected where the pages get their client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.fakes import FakeSupportApi
from web_interface import session
from web_interface.settings import WebSettings

WEB = Path(__file__).resolve().parents[2] / "web_interface"


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSupportApi]:
    fake = FakeSupportApi()
    monkeypatch.setattr(session, "build_client", lambda: fake)
    session.api.clear()
    session.store.clear()  # every test starts with no session keys and no shared service token
    yield fake
    session.api.clear()
    session.store.clear()


@pytest.fixture
def web_settings(monkeypatch: pytest.MonkeyPatch) -> WebSettings:
    """The app's settings for a test; change fields on the returned object to configure the pages."""
    config = WebSettings(_env_file=None, max_message_length=500)  # type: ignore[call-arg]
    monkeypatch.setattr(session, "settings", lambda: config)
    return config


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test item (`item.rep_call`), so fixtures can see whether it failed."""
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report
