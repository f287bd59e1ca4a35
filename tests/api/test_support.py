"""Support requests, roles and cases through HTTP with a fake crew."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from crew.models import Route
from desk.commands import audit_verify
from desk.crew_holder import CrewHolder
from desk.db import make_engine
from desk.errors import ServiceUnavailable
from desk.settings import Settings
from tests.api.fakes import FailingCrew, FakeCrew

MakeAccount = Callable[..., dict[str, str]]


@pytest.mark.parametrize("route", ["billing", "technical", "escalation", "complex"])
def test_forced_routes(client: TestClient, make_account: MakeAccount, fake_crew: FakeCrew, route: str) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    body = client.post(f"/support/{route}", json={"message": "help"}, headers=headers).json()
    assert body["agent_type"] == route
    assert fake_crew.calls[-1]["route"] == Route(route)


def test_a_request_is_classified_once_and_the_crew_gets_that_classification(
    client: TestClient, make_account: MakeAccount, fake_crew: FakeCrew
) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    before = fake_crew.classify_calls
    response = client.post("/support/request", json={"message": "my invoice is wrong"}, headers=headers)
    assert response.status_code == 200
    # The auto-emergency check classifies; the crew reuses it (a hosted classifier would cost a second call).
    assert fake_crew.classify_calls == before + 1
    given = fake_crew.calls[-1]["classification"]
    assert given is not None and given.category.value == response.json()["category"]


def test_classify_creates_no_case(client: TestClient, make_account: MakeAccount) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/classify", json={"message": "my invoice is wrong"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["route"] == "billing" and response.json()["category"] == "billing"
    assert client.get("/support/cases", headers=headers).json()["total"] == 0


def test_customer_cannot_read_or_write_for_another_customer(
    client: TestClient, make_account: MakeAccount, fake_crew: FakeCrew
) -> None:
    alice = make_account(client, "alice", "customer", "cust-a")
    bob = make_account(client, "bob", "customer", "cust-b")
    case_b = client.post("/support/request", json={"message": "bob's issue"}, headers=bob).json()["case_id"]

    calls_before = len(fake_crew.calls)
    write = client.post("/support/request", json={"message": "x", "customer_id": "cust-b"}, headers=alice)
    assert write.status_code == 403 and write.json()["code"] == "other_customer"
    assert len(fake_crew.calls) == calls_before

    read = client.get(f"/support/cases/{case_b}", headers=alice)
    missing = client.get("/support/cases/does-not-exist", headers=alice)
    assert read.status_code == missing.status_code == 404
    assert read.json()["code"] == missing.json()["code"] == "case_not_found"
    assert client.get("/support/cases", params={"customer_id": "cust-b"}, headers=alice).status_code == 403
    assert client.get("/support/cases", headers=alice).json()["total"] == 0
    assert client.get(f"/support/cases/{case_b}", headers=bob).status_code == 200


def test_integrator_must_name_customer_and_sees_only_its_cases(client: TestClient, make_account: MakeAccount) -> None:
    integrator = make_account(client, "shop", "integrator")
    other = make_account(client, "crm", "integrator")
    missing = client.post("/support/request", json={"message": "hi"}, headers=integrator)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "customer_id"
    case_id = client.post(
        "/support/request", json={"message": "hi", "customer_id": "cust-z"}, headers=integrator
    ).json()["case_id"]
    assert client.get(f"/support/cases/{case_id}", headers=integrator).json()["customer_id"] == "cust-z"
    assert client.get(f"/support/cases/{case_id}", headers=other).status_code == 404


def test_staff_reads_all_cases_but_does_not_file(client: TestClient, make_account: MakeAccount) -> None:
    alice = make_account(client, "alice", "customer", "cust-a")
    staff = make_account(client, "sam", "staff")
    case_id = client.post("/support/request", json={"message": "hi"}, headers=alice).json()["case_id"]
    assert client.get(f"/support/cases/{case_id}", headers=staff).status_code == 200
    assert client.post("/support/request", json={"message": "hi", "customer_id": "c"}, headers=staff).status_code == 403


def test_case_list_filters_and_pagination(client: TestClient, make_account: MakeAccount) -> None:
    shop = make_account(client, "shop", "integrator")
    for i in range(5):
        client.post("/support/request", json={"message": f"m{i}", "customer_id": f"c{i % 2}"}, headers=shop)
    client.post("/support/request", json={"message": "fire", "customer_id": "c0", "emergency": True}, headers=shop)
    page = client.get("/support/cases", params={"limit": 2, "offset": 0}, headers=shop).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert client.get("/support/cases", params={"customer_id": "c1"}, headers=shop).json()["total"] == 2
    assert client.get("/support/cases", params={"emergency": True}, headers=shop).json()["total"] == 1
    assert client.get("/support/cases", params={"status": "escalated"}, headers=shop).json()["total"] == 1
    assert client.get("/support/cases", params={"priority": "urgent"}, headers=shop).json()["total"] == 1
    assert client.get("/support/cases", params={"status": "bogus"}, headers=shop).status_code == 422


class RecordingHook:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []

    def on_emergency(self, case_id: str, *, customer_id: str, auto: bool) -> None:
        self.calls.append((case_id, customer_id, auto))


def test_emergency_forces_escalation_and_calls_the_hook(
    client_for: Callable[..., TestClient], settings: Settings, make_account: MakeAccount
) -> None:
    hook, crew = RecordingHook(), FakeCrew()
    client = client_for(settings, crew, escalation_hook=hook)
    headers = make_account(client, "alice", "customer", "cust-a")
    body = client.post(
        "/support/billing", json={"message": "smoke from the device", "emergency": True}, headers=headers
    ).json()
    assert (body["agent_type"], body["priority"], body["status"]) == ("escalation", "urgent", "escalated")
    assert crew.calls[-1]["route"] is Route.ESCALATION and crew.calls[-1]["emergency"] is True
    assert hook.calls == [(body["case_id"], "cust-a", False)]
    case = client.get(f"/support/cases/{body['case_id']}", headers=headers).json()
    assert case["emergency"] is True and case["auto_emergency"] is False


def test_crew_failure_leaves_failed_case_clean_502_and_intact_audit(
    client_for: Callable[..., TestClient], settings: Settings, make_account: MakeAccount
) -> None:
    client = client_for(settings, FailingCrew())
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": "anything"}, headers=headers)
    assert response.status_code == 502
    body = response.json()
    assert set(body) == {"detail", "code", "request_id"} and body["code"] == "crew_failed"
    assert "exploded" not in response.text and "Traceback" not in response.text
    case = client.get(f"/support/cases/{response.headers['x-case-id']}", headers=headers).json()
    assert case["status"] == "failed" and case["error_code"] == "crew_error"
    assert [m["author"] for m in case["messages"]] == ["customer"]
    events = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    assert any(
        e["event"] == "support_request" and e["status_code"] == 502 and e["case_id"] == case["id"] for e in events
    )
    assert audit_verify(_Args(file=None), settings) == 0


class _Args:
    def __init__(self, file: str | None) -> None:
        self.file = file


def test_unexpected_error_is_a_generic_500(
    client_for: Callable[..., TestClient], settings: Settings, make_account: MakeAccount
) -> None:
    class BrokenClassifier(FakeCrew):
        def classify(self, message: str) -> object:  # type: ignore[override]
            raise KeyError("internal-detail")

    client = client_for(settings, BrokenClassifier())
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/classify", json={"message": "hi"}, headers=headers)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error" and "internal-detail" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_slow_crew_call_does_not_block_other_requests(
    client_for: Callable[..., TestClient], settings: Settings, make_account: MakeAccount
) -> None:
    crew = FakeCrew(block_on="slow")
    client = client_for(settings, crew)
    headers = make_account(client, "alice", "customer", "cust-a")
    slow_status: list[int] = []
    worker = threading.Thread(
        target=lambda: slow_status.append(
            client.post("/support/request", json={"message": "slow one"}, headers=headers).status_code
        )
    )
    worker.start()
    deadline = time.monotonic() + 5
    while not crew.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fast = client.post("/support/request", json={"message": "fast one"}, headers=headers)
    assert fast.status_code == 200 and time.monotonic() - started < 2
    assert not slow_status  # the slow one is still waiting on its model call
    crew.release.set()
    worker.join(10)
    assert slow_status == [200]


def test_status_counts_for_staff_only(client: TestClient, make_account: MakeAccount) -> None:
    alice = make_account(client, "alice", "customer", "cust-a")
    staff = make_account(client, "sam", "staff")
    client.post("/support/request", json={"message": "hi"}, headers=alice)
    client.get("/support/cases", headers={"Authorization": "Bearer nope"})
    assert client.get("/support/status", headers=alice).status_code == 403
    status = client.get("/support/status", headers=staff).json()
    assert status["routing_counts"] == {"billing": 1}
    assert status["agents"][0]["interactions"] == 1 and status["agents"][0]["p95_latency_ms"] is not None
    assert status["auth_failures_last_hour"] >= 1


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "database": "ok",
        "rate_limit_storage": "ok",
        "crew": "ok",
    }


def test_readiness_fails_without_database(client: TestClient) -> None:
    # Nothing listens on port 1 of loopback: the database is unreachable.
    client.app.state.engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready" and response.json()["checks"]["database"] == "unreachable"


def test_crew_not_loaded_is_503() -> None:
    with pytest.raises(ServiceUnavailable):
        CrewHolder(None).get()


def test_a_request_arriving_while_the_crew_loads_waits_for_it(
    client: TestClient, make_account: MakeAccount, fake_crew: FakeCrew
) -> None:
    # One of several processes behind one socket may get requests before its crew is built.
    headers = make_account(client, "alice", "customer", "cust-a")
    loading = CrewHolder(None)
    client.app.state.crew_holder = loading  # type: ignore[attr-defined]
    threading.Timer(0.5, loading.provide, args=(fake_crew,)).start()
    response = client.post("/support/request", json={"message": "my invoice is wrong"}, headers=headers)
    assert response.status_code == 200 and response.json()["response"]


def test_a_crew_that_does_not_load_in_time_is_a_503_with_retry_after(
    client_for: Callable[..., TestClient], settings: Settings, make_account: MakeAccount, fake_crew: FakeCrew
) -> None:
    client = client_for(settings.model_copy(update={"crew_load_wait_seconds": 0.2}), fake_crew)
    headers = make_account(client, "alice", "customer", "cust-a")
    client.app.state.crew_holder = CrewHolder(None)  # type: ignore[attr-defined]
    response = client.post("/support/request", json={"message": "my invoice is wrong"}, headers=headers)
    assert response.status_code == 503
    assert response.json()["code"] == "crew_not_ready" and response.json()["request_id"]
    assert response.headers["Retry-After"] == "5"


def test_admin_creates_accounts_and_reads_audit(client: TestClient, make_account: MakeAccount) -> None:
    admin = make_account(client, "root", "admin")
    alice = make_account(client, "alice", "customer", "cust-a")
    created = client.post(
        "/admin/accounts",
        json={"username": "carol", "password": "longenough1", "role": "customer", "customer_id": "cust-c"},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["customer_id"] == "cust-c"
    assert client.post("/auth/token", data={"username": "carol", "password": "longenough1"}).status_code == 200
    assert (
        client.post(
            "/admin/accounts", json={"username": "carol", "password": "longenough1", "role": "staff"}, headers=admin
        ).status_code
        == 409
    )
    assert client.get("/admin/audit", headers=alice).status_code == 403
    page = client.get("/admin/audit", params={"event": "account_created"}, headers=admin).json()
    events = page["items"]
    assert len(events) == 1 and events[0]["actor"] == "root"
    assert page["chain_intact"] is True and page["first_broken_seq"] is None
