"""F7: the database copy of the audit log is verified against the hash chain, by `support-desk audit verify`
and by GET /admin/audit (`chain_intact`, `first_broken_seq`), which serves that copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from desk import audit as audit_module
from desk.audit import AuditLog, entry_hash, row_entry, verify_database
from desk.commands import audit_verify
from desk.models import AuditEvent
from desk.settings import Settings
from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]


class Args:
    file = None


@pytest.fixture
def desk(
    database_url: str, tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> tuple[TestClient, Settings, dict[str, str]]:
    """An app with some traffic in its audit log, and an admin's headers (the database is set up before the
    client and so dropped after it)."""
    settings = make_settings(tmp_path, database_url=database_url)
    client = client_for(settings, FakeCrew())
    admin = make_account(client, "root", "admin")
    alice = make_account(client, "alice", "customer", "cust-a")
    for i in range(3):
        client.post("/support/request", json={"message": f"hello {i}"}, headers=alice)
    client.post("/auth/token", data={"username": "alice", "password": "wrong"})
    client.app.state.audit.flush()  # type: ignore[attr-defined]  # the database copy follows the file in batches
    return client, settings, admin


def _chain(client: TestClient, admin: dict[str, str]) -> tuple[bool, int | None, str | None]:
    page = client.get("/admin/audit", params={"limit": 1}, headers=admin).json()
    return page["chain_intact"], page["first_broken_seq"], page["chain_problem"]


def _execute(client: TestClient, statement: object) -> None:
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        session.execute(statement)


def test_an_untouched_copy_verifies(desk: tuple[TestClient, Settings, dict[str, str]]) -> None:
    client, settings, admin = desk
    assert _chain(client, admin) == (True, None, None)
    assert audit_verify(Args(), settings) == 0  # type: ignore[arg-type]


def test_an_edited_row_is_found(desk: tuple[TestClient, Settings, dict[str, str]]) -> None:
    # Before: `audit verify` compared only the last seq and hash, and GET /admin/audit served the edit.
    client, settings, admin = desk
    _execute(client, update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone-else"))
    intact, seq, problem = _chain(client, admin)
    assert (intact, seq) == (False, 3) and "edited" in (problem or "")
    assert audit_verify(Args(), settings) == 1  # type: ignore[arg-type]


def test_an_edited_payload_is_found(desk: tuple[TestClient, Settings, dict[str, str]]) -> None:
    client, settings, admin = desk
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        row = session.scalar(select(AuditEvent).where(AuditEvent.event == "support_request"))
        assert row is not None
        row.payload = {**row.payload, "status_code_note": "edited"}
        edited = row.seq
    assert _chain(client, admin)[:2] == (False, edited)
    assert audit_verify(Args(), settings) == 1  # type: ignore[arg-type]


def test_a_deleted_row_is_found(desk: tuple[TestClient, Settings, dict[str, str]]) -> None:
    client, settings, admin = desk
    _execute(client, delete(AuditEvent).where(AuditEvent.seq == 2))
    intact, seq, problem = _chain(client, admin)
    assert (intact, seq) == (False, 2) and "missing" in (problem or "")
    assert audit_verify(Args(), settings) == 1  # type: ignore[arg-type]


def test_rows_deleted_from_the_end_are_found(
    desk: tuple[TestClient, Settings, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, settings, admin = desk
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        last = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert last is not None
    _execute(client, delete(AuditEvent).where(AuditEvent.seq >= last - 1))
    # Entries this young would count as writes in flight: make them old enough to be missing.
    monkeypatch.setattr(audit_module, "IN_FLIGHT", audit_module.IN_FLIGHT * 0)
    assert audit_verify(Args(), settings) == 1  # type: ignore[arg-type]
    intact, seq, _ = _chain(client, admin)
    assert intact is False and seq == last - 1


def test_a_consistently_rewritten_copy_is_found_through_the_file(
    desk: tuple[TestClient, Settings, dict[str, str]],
) -> None:
    # Someone edits a row and recomputes every hash after it: the copy is a chain again, but not the file's.
    client, settings, admin = desk
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        rows[1].actor = "forged"
        prev = rows[0].hash
        for number, row in enumerate(rows[1:]):
            row.hash = f"{number:064d}"  # placeholders: the unique index must hold while the rows change
        session.flush()
        for row in rows[1:]:
            row.prev_hash = prev
            row.hash = entry_hash(row_entry(row))
            prev = row.hash
            session.flush()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert verify_database(session).ok  # the copy alone looks fine
    intact, _, problem = _chain(client, admin)
    assert intact is False and "differs from the file" in (problem or "")
    assert audit_verify(Args(), settings) == 1  # type: ignore[arg-type]


def test_another_machines_chain_in_the_table_leaves_this_one_intact(
    desk: tuple[TestClient, Settings, dict[str, str]], tmp_path: Path
) -> None:
    # The documented layout with processes on two machines: each writes its own file into the shared table.
    client, settings, admin = desk
    other = AuditLog(tmp_path / "other-machine.log", client.app.state.engine, chain="other-machine")  # type: ignore[attr-defined]
    for number in range(3):
        other.record("login", actor="bob", request_id=f"o{number}")
    assert _chain(client, admin) == (True, None, None)
    assert audit_verify(Args(), settings) == 0  # type: ignore[arg-type]
    page = client.get("/admin/audit", params={"event": "login"}, headers=admin).json()
    assert {item["chain"] for item in page["items"]} == {"other-machine"}
