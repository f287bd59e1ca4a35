"""F8: what a client types never reaches a log as typed: an unknown login username (perhaps a password) is a
keyed pseudonym, markup from paths and names is made inert in the audit log, and no access log line carries
a query string."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import commands
from desk.models import AuditEvent
from desk.settings import Settings

MakeAccount = Callable[..., dict[str, str]]


def _audit(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]


def test_a_password_typed_as_the_username_is_not_logged(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    make_account(client, "alice", "customer", "cust-a")
    typed = "Tr0ub4dor&3-horse"
    for _ in range(2):
        assert client.post("/auth/token", data={"username": typed, "password": "x"}).status_code == 401
    client.post("/auth/token", data={"username": "alice", "password": "wrong"})
    for path in (settings.audit_log_file, settings.log_file):
        assert typed not in path.read_text() and "Tr0ub4dor" not in path.read_text()
    failed = [e for e in _audit(settings) if e["event"] == "login_failed"]
    unknown = [e for e in failed if e["actor"] == "unknown"]
    assert len(unknown) == 2 and unknown[0]["username_length"] == len(typed)
    assert unknown[0]["username_hash"] == unknown[1]["username_hash"]  # attempts on one name can be followed
    assert str(unknown[0]["username_hash"]).startswith("h:")
    assert [e["actor"] for e in failed if e["actor"] != "unknown"] == ["alice"]  # a real account is named


def test_markup_from_paths_and_names_is_inert_in_the_audit_log(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    alice = make_account(client, "alice", "customer", "cust-a")
    client.get("/support/cases/<script>alert(1)</script>", headers=alice)
    client.app.state.audit.record("probe", actor="<script>x</script>", note="a\x1b[31mred\u2028")  # type: ignore[attr-defined]
    text = settings.audit_log_file.read_text()
    assert "<script" not in text.lower() and "\\u001b" not in text and "\x1b" not in text
    probe = next(e for e in _audit(settings) if e["event"] == "probe")
    assert probe["actor"] == "&lt;script&gt;x&lt;/script&gt;" and probe["note"] == "a[31mred"
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        stored = [(r.actor, json.dumps(r.payload)) for r in session.scalars(select(AuditEvent))]
    assert not any("<script" in (actor or "") + payload for actor, payload in stored)
    request = next(e for e in _audit(settings) if e["event"] == "support_request")
    assert request["path"].startswith("/support/cases/%3Cscript%3E")


def test_no_query_string_in_the_access_log(client: TestClient, make_account: MakeAccount, settings: Settings) -> None:
    staff = make_account(client, "sam", "staff")
    client.get("/support/cases", params={"customer_id": "jane.doe@example.com"}, headers=staff)
    client.get("/admin/audit", params={"event": "login_failed"}, headers=staff)
    log = settings.log_file.read_text()
    assert "GET /support/cases 4" in log or "GET /support/cases 2" in log
    assert "jane.doe" not in log and "customer_id=" not in log and "event=" not in log


def test_serve_turns_uvicorns_access_log_off(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setattr("desk.db.upgrade_database", lambda url: None)
    monkeypatch.setattr(commands, "get_settings", lambda: settings)
    assert commands.serve(argparse.Namespace(host=None, port=None, workers=1)) == 0
    # uvicorn's access log printed the request line with its query string (an e-mail address appeared).
    assert seen["access_log"] is False
    assert seen["proxy_headers"] is False  # the client address is ours to decide (TRUSTED_PROXIES)
