from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.fakes import FakeCrew


def test_request_creates_answered_case(
    client: TestClient, make_account: Callable[..., dict[str, str]], fake_crew: FakeCrew
) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": "I was charged twice"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "response",
        "agent_type",
        "timestamp",
        "case_id",
        "category",
        "priority",
        "confidence",
        "citations",
        "status",
        "degraded",
    }
    assert body["agent_type"] == "billing" and body["status"] == "answered"
    case = client.get(f"/support/cases/{body['case_id']}", headers=headers).json()
    assert [m["author"] for m in case["messages"]] == ["customer", "agent"]
