"""The one intake, through HTTP: an emergency is never refused because the rate-limit store is down (F3),
and a follow-up takes the same steps as a first message (auto-emergency check, failure record)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.oncall.conftest import fast_settings
from tests.oncall.fakes import RecordingCrew

Account = Callable[..., dict[str, str]]
Apps = Callable[..., TestClient]
# Nothing listens on port 1 of loopback: every hit on the limit store fails at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def audit_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_with_the_limit_store_down_emergencies_are_accepted_and_paged_and_the_rest_refused(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path, rate_limit_storage_uri=UNREACHABLE_REDIS)
    client = apps(settings, crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")

    flagged = client.post(
        "/support/request", json={"message": "fire in the server room", "emergency": True}, headers=alice
    )
    detected = client.post("/support/request", json={"message": "my account was hacked"}, headers=alice)
    ordinary = client.post("/support/request", json={"message": "invoice copy please"}, headers=alice)

    assert flagged.status_code == 200, flagged.text
    assert detected.status_code == 200, detected.text
    assert ordinary.status_code == 503 and ordinary.json()["code"] == "rate_limit_storage_unavailable"
    paged = {p["case_id"] for p in client.get("/support/oncall/pages", headers=staff).json()["items"]}
    assert paged == {flagged.json()["case_id"], detected.json()["case_id"]}
    cases = client.get("/support/cases", headers=staff).json()
    assert cases["total"] == 2  # the refused request left no case
    opened = [e for e in audit_events(settings.audit_log_file) if e["event"] == "rate_limit_failed_open"]
    assert len(opened) == 2 and {e["customer_id"] for e in opened} == {"cust-a"}


def test_a_follow_up_that_is_an_emergency_escalates_the_case_and_pages_again(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    case_id = client.post("/support/request", json={"message": "lost parcel", "emergency": True}, headers=alice).json()[
        "case_id"
    ]
    assert client.post(f"/support/cases/{case_id}/handback", headers=staff).status_code == 200

    calm = client.post(f"/support/cases/{case_id}/messages", json={"text": "thanks, found it"}, headers=alice)
    assert calm.json()["status"] == "answered"
    urgent = client.post(
        f"/support/cases/{case_id}/messages", json={"text": "now my account was hacked"}, headers=alice
    )

    assert urgent.status_code == 200, urgent.text
    case = urgent.json()
    assert (case["status"], case["priority"], case["auto_emergency"]) == ("escalated", "urgent", True)
    assert crew.calls[-1]["emergency"] is True
    pages = client.get("/support/oncall/pages", params={"case_id": case_id}, headers=staff).json()["items"]
    assert sorted(p["reason"] for p in pages) == ["auto_emergency", "emergency"]
    assert len({p["idempotency_key"] for p in pages}) == 2
    queue = client.get("/support/oncall/queue", headers=staff).json()["items"]
    assert [item["case_id"] for item in queue] == [case_id]


def test_a_follow_up_the_crew_cannot_answer_is_recorded_as_failed(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice = account(client, "alice", "customer", "cust-a")
    case_id = client.post("/support/request", json={"message": "invoice copy"}, headers=alice).json()["case_id"]
    crew.fail_with = RuntimeError("model down")

    failed = client.post(f"/support/cases/{case_id}/messages", json={"text": "still waiting"}, headers=alice)

    assert failed.status_code == 502 and failed.json()["code"] == "crew_failed"
    assert failed.headers["X-Case-ID"] == case_id
    case = client.get(f"/support/cases/{case_id}", headers=alice).json()
    assert case["status"] == "failed" and case["messages"][-1]["text"] == "still waiting"
