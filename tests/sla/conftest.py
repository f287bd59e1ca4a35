"""SLA test fixtures: a migrated SQLite database, an audit log, a short test policy, and `seed` to write a
case's history with exact timestamps (the clocks are read at a controllable `now`, nothing sleeps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from desk.audit import AuditLog
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.models import Case, CaseEvent, CaseMessage, Customer
from desk.settings import Settings

# The API tests' fixtures, for tests/sla/test_api.py.
from tests.api.conftest import client_for, make_account, make_settings, password_hash  # noqa: F401

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC

# Short, round targets the tests compute by hand: standard = 1 h / 30 min / 4 h, "fast" resolves within 1 h.
TEST_POLICY = """
default_tier: standard
business_hours: {timezone: UTC, days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
tiers:
  standard:
    urgent: {first_response: 1h, next_response: 30m, resolution: 4h}
    high: {first_response: 1h, next_response: 30m, resolution: 4h}
    medium: {first_response: 1h, next_response: 30m, resolution: 4h}
    low: {first_response: 1h, next_response: 30m, resolution: 4h}
  fast:
    urgent: {first_response: 1h, next_response: 1h, resolution: 1h}
    high: {first_response: 1h, next_response: 1h, resolution: 1h}
    medium: {first_response: 1h, next_response: 1h, resolution: 1h}
    low: {first_response: 1h, next_response: 1h, resolution: 1h}
"""


@dataclass
class Desk:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    audit: AuditLog

    def audit_events(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.settings.audit_log_file.exists():
            return []
        lines = [json.loads(line) for line in self.settings.audit_log_file.read_text().splitlines()]
        return [e for e in lines if event is None or e["event"] == event]


def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "sla.yaml"
    path.write_text(TEST_POLICY, encoding="utf-8")
    return path


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Iterator[Desk]:
    settings = make_settings(
        tmp_path, database_url=database_url, sla_policy_file=str(policy_file(tmp_path)), oncall_max_repages=3
    )
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    yield Desk(settings, engine, make_session_factory(engine), AuditLog(settings.audit_log_file, engine))
    engine.dispose()


class HasSessions(Protocol):
    session_factory: sessionmaker[Session]


def seed(
    desk: HasSessions,
    case_id: str,
    *,
    status: str,
    messages: list[tuple[str, datetime]],
    marks: list[tuple[str, datetime]] = (),  # type: ignore[assignment]
    created: datetime = T0,
    priority: str | None = "medium",
    emergency: bool = False,
    customer_id: str = "cust-1",
    route: str | None = "billing",
    tier: str | None = None,
    subject: str | None = None,
) -> None:
    """One case with its messages (author, time) and recorded status changes (status, time)."""
    updated = max([created, *(at for _, at in messages), *(at for _, at in marks)])
    with desk.session_factory.begin() as session:
        if tier is not None and session.get(Customer, customer_id) is None:
            session.add(Customer(id=customer_id, name="Ada", tier=tier, created_at=created, updated_at=created))
        session.add(
            Case(
                id=case_id,
                customer_id=customer_id,
                requested_route="auto",
                route=route,
                priority=priority,
                status=status,
                emergency=emergency,
                subject=subject,
                last_author=messages[-1][0] if messages else None,
                created_at=created,
                updated_at=updated,
            )
        )
        session.flush()
        for author, at in messages:
            session.add(CaseMessage(case_id=case_id, author=author, text=f"{author} text", citations=[], created_at=at))
        for to, at in marks:
            session.add(CaseEvent(case_id=case_id, kind="status", at=at, data={"to": to}))
