"""Staff hand-off through HTTP: acknowledge, reply, status, hand back, the customer's follow-up, the queue,
the outbox view, auto-emergency, and who may do what."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from crew.models import Category, Priority, Route
from tests.oncall.conftest import fast_settings
from tests.oncall.fakes import RecordingCrew

Account = Callable[..., dict[str, str]]
Apps = Callable[..., TestClient]


def file_emergency(client: TestClient, headers: dict[str, str], message: str = "fire") -> str:
    response = client.post("/support/request", json={"message": message, "emergency": True}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["case_id"])


def audit_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_staff_reply_is_visible_to_the_customer_and_acknowledges(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path)
    client = apps(settings, crew)
    alice, bob = account(client, "alice", "customer", "cust-a"), account(client, "bob", "customer", "cust-b")
    staff = account(client, "sam", "staff")
    case_id = file_emergency(client, alice)

    reply = client.post(f"/support/cases/{case_id}/messages", json={"text": "<b>Calling you now</b>"}, headers=staff)
    assert reply.status_code == 200 and reply.json()["status"] == "acknowledged"
    thread = client.get(f"/support/cases/{case_id}", headers=alice).json()["messages"]
    assert [(m["author"], m["text"]) for m in thread][-1] == ("staff", "Calling you now")
    assert len(crew.calls) == 1  # a staff reply never reaches the crew

    # Customers cannot do staff actions, and cannot touch another customer's case.
    assert client.post(f"/support/cases/{case_id}/ack", headers=alice).status_code == 403
    other = client.post(f"/support/cases/{case_id}/messages", json={"text": "hi"}, headers=bob)
    assert other.status_code == 404 and set(other.json()) == {"detail", "code", "request_id"}
    assert client.get("/support/oncall/queue", headers=alice).status_code == 403

    events = audit_events(settings.audit_log_file)
    reply_event = next(e for e in events if e["event"] == "case_reply")
    assert reply_event["actor"] == "sam" and reply_event["case_id"] == case_id and "text" not in reply_event
    assert any(e["event"] == "oncall_ack" and e.get("via") == "reply" for e in events)


def test_handback_then_the_crew_answers_the_follow_up_with_the_whole_thread(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path)
    client = apps(settings, crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    case_id = client.post(
        "/support/request", json={"message": "my invoice is wrong", "emergency": True}, headers=alice
    ).json()["case_id"]

    # While people have the case, a follow-up is stored for them and the crew stays out of it.
    waiting = client.post(f"/support/cases/{case_id}/messages", json={"text": "any news?"}, headers=alice)
    assert waiting.status_code == 200 and len(crew.calls) == 1
    client.post(f"/support/cases/{case_id}/messages", json={"text": "Fixed the invoice."}, headers=staff)
    handed = client.post(f"/support/cases/{case_id}/handback", headers=staff)
    assert handed.status_code == 200 and handed.json()["status"] == "open"

    follow_up = client.post(f"/support/cases/{case_id}/messages", json={"text": "And the VAT?"}, headers=alice)
    assert follow_up.status_code == 200, follow_up.text
    call = crew.calls[-1]
    assert call["message"] == "And the VAT?" and call["route"] is Route.AUTO and call["emergency"] is False
    assert [(m.author, m.text) for m in call["history"]] == [
        ("customer", "my invoice is wrong"),
        ("agent", call["history"][1].text),
        ("customer", "any news?"),
        ("staff", "Fixed the invoice."),
    ]
    case = follow_up.json()
    assert case["status"] == "answered" and case["messages"][-1]["author"] == "agent"
    assert client.post(f"/support/cases/{case_id}/handback", headers=staff).status_code == 409
    assert any(e["event"] == "case_handback" and e["actor"] == "sam" for e in audit_events(settings.audit_log_file))


def test_status_changes_stop_paging_and_are_audited(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path)
    client = apps(settings, crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    case_id = file_emergency(client, alice)
    for status in ("in_progress", "resolved"):
        response = client.post(f"/support/cases/{case_id}/status", json={"status": status}, headers=staff)
        assert response.status_code == 200 and response.json()["status"] == status
    assert client.post(f"/support/cases/{case_id}/status", json={"status": "bogus"}, headers=staff).status_code == 422
    assert client.post(f"/support/cases/{case_id}/ack", headers=staff).status_code == 409
    assert client.patch(f"/support/cases/{case_id}", json={"status": "in_progress"}, headers=staff).status_code == 200
    pages = client.get("/support/oncall/pages", params={"case_id": case_id}, headers=staff).json()
    assert [p["status"] for p in pages["items"]] == ["cancelled"]
    changes = [
        (e["from_status"], e["to_status"]) for e in audit_events(settings.audit_log_file) if e["event"] == "case_status"
    ]
    assert changes == [("escalated", "in_progress"), ("in_progress", "resolved"), ("resolved", "in_progress")]


def test_queue_lists_emergencies_first_with_age_and_time_to_breach(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    ordinary = client.post("/support/request", json={"message": "invoice"}, headers=alice).json()["case_id"]
    first = client.post("/support/request", json={"message": "fire", "emergency": True}, headers=alice).json()
    second = client.post("/support/request", json={"message": "flood", "emergency": True}, headers=alice).json()
    queue = client.get("/support/oncall/queue", headers=staff).json()
    assert [i["case_id"] for i in queue["items"]] == [first["case_id"], second["case_id"]]
    assert ordinary not in {i["case_id"] for i in queue["items"]} and queue["total"] == 2
    item = queue["items"][0]
    assert item["emergency"] is True and item["priority"] == "urgent" and item["breached"] is False
    assert 3500 < item["time_to_breach_seconds"] <= 3600  # urgent: first response within 1 hour (KB-031)
    assert item["age_seconds"] >= 0 and item["pages_pending"] == 1 and "fire" not in item["summary"]
    assert item["subject"] == "fire"  # staff see the case's subject (the thread is theirs to read anyway)


def test_without_a_webhook_pages_wait_in_the_outbox_for_the_web_page(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    case_id = file_emergency(client, alice)
    pages = client.get("/support/oncall/pages", headers=staff).json()
    assert pages["webhook_configured"] is False and pages["counts"] == {"pending": 1}
    page = pages["items"][0]
    assert (page["case_id"], page["status"], page["attempts"], page["target"]) == (case_id, "pending", 0, "primary")
    assert client.get("/support/oncall/pages", headers=alice).status_code == 403


def test_auto_emergency_escalates_pages_and_marks_the_case(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    body = client.post("/support/billing", json={"message": "my account was hacked"}, headers=alice).json()
    assert (body["status"], body["priority"], body["agent_type"]) == ("escalated", "urgent", "escalation")
    assert crew.calls[-1]["emergency"] is True and "urgent queue" in body["response"]  # no pager configured
    case = client.get(f"/support/cases/{body['case_id']}", headers=alice).json()
    assert case["emergency"] is True and case["auto_emergency"] is True
    pages = client.get("/support/oncall/pages", headers=staff).json()["items"]
    assert [(p["case_id"], p["reason"]) for p in pages] == [(body["case_id"], "auto_emergency")]

    calm = client.post("/support/request", json={"message": "invoice copy please"}, headers=alice).json()
    assert calm["status"] == "answered" and crew.calls[-1]["emergency"] is False


def test_auto_emergency_follows_its_settings(tmp_path: Path, apps: Apps, account: Account) -> None:
    off = apps(fast_settings(tmp_path / "off", auto_emergency_enabled=False), RecordingCrew())
    alice = account(off, "alice", "customer", "cust-a")
    # Not an emergency (nothing paged), but an escalation still goes to a person, in the needs-human queue.
    assert (
        off.post("/support/request", json={"message": "my account was hacked"}, headers=alice).json()["status"]
        == "needs_human"
    )
    staff = account(off, "sam", "staff")
    assert off.get("/support/oncall/pages", headers=staff).json()["total"] == 0
    # Urgent technical problems (outages) page too once `technical` is listed.
    crew = RecordingCrew(category=Category.TECHNICAL, priority=Priority.URGENT)
    on = apps(fast_settings(tmp_path / "on", auto_emergency_categories=["escalation", "technical"]), crew)
    bob = account(on, "bob", "customer", "cust-b")
    assert (
        on.post("/support/request", json={"message": "everything is down"}, headers=bob).json()["status"] == "escalated"
    )


def test_customer_follow_ups_count_against_the_customer_limit_and_a_rejection_is_audited(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path, rate_limit_per_minute=2)
    client = apps(settings, crew)
    alice = account(client, "alice", "customer", "cust-a")
    case_id = client.post("/support/request", json={"message": "my invoice is wrong"}, headers=alice).json()["case_id"]
    assert client.post(f"/support/cases/{case_id}/messages", json={"text": "and?"}, headers=alice).status_code == 200
    rejected = client.post(f"/support/cases/{case_id}/messages", json={"text": "hello?"}, headers=alice)
    assert rejected.status_code == 429 and rejected.headers["Retry-After"]
    assert rejected.json()["code"] == "rate_limited"
    thread = client.get(f"/support/cases/{case_id}", headers=alice).json()["messages"]
    assert "hello?" not in [m["text"] for m in thread]  # the rejected follow-up never reached the case
    assert any(
        e["event"] == "rate_limited" and e["actor"] == "alice" and e["customer_id"] == "cust-a"
        for e in audit_events(settings.audit_log_file)
    )


def test_every_message_keeps_the_cases_last_author_for_the_sla_sweep(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    from sqlalchemy import select

    from desk.models import Case, CaseMessage

    settings = fast_settings(tmp_path)
    client = apps(settings, crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")

    def authors(case_id: str) -> tuple[str | None, str]:
        """(the case row's last_author, the author of its newest message)."""
        with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
            case = session.get(Case, case_id)
            assert case is not None
            newest = session.scalars(
                select(CaseMessage.author).where(CaseMessage.case_id == case_id).order_by(CaseMessage.id.desc())
            ).first()
            assert newest is not None
            return case.last_author, newest

    case_id = file_emergency(client, alice, "my invoice is wrong")  # customer, then the crew's holding reply
    assert authors(case_id) == ("agent", "agent")
    client.post(f"/support/cases/{case_id}/messages", json={"text": "any news?"}, headers=alice)
    assert authors(case_id) == ("customer", "customer")  # stored for the people, not answered by the crew
    client.post(f"/support/cases/{case_id}/messages", json={"text": "Fixed it."}, headers=staff)
    assert authors(case_id) == ("staff", "staff")
    client.post(f"/support/cases/{case_id}/handback", json={"note": "Over to the desk."}, headers=staff)
    assert authors(case_id) == ("staff", "staff")
    client.post(f"/support/cases/{case_id}/messages", json={"text": "And the VAT?"}, headers=alice)
    assert authors(case_id) == ("agent", "agent")  # the crew answered the follow-up

    # A crew failure writes no message: the customer's stays the newest, and so the case's last author.
    crew.fail_with = RuntimeError("model down")
    failed = client.post(f"/support/cases/{case_id}/messages", json={"text": "Hello?"}, headers=alice)
    assert failed.status_code >= 500
    assert authors(case_id) == ("customer", "customer")
