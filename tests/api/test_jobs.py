"""The crew as a job, through HTTP, in the embedded mode (no broker): 202 with `Prefer: respond-async` or after
JOB_WAIT_SECONDS, queued/running/answered statuses, Idempotency-Key replays, and the recovery sweep."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bench.fake_crew import FakeCrew
from desk.jobs import store
from desk.jobs.models import Job
from desk.models import Case, utcnow
from tests.api.conftest import make_settings

MakeAccount = Callable[..., dict[str, str]]
ASYNC = {"Prefer": "respond-async"}


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def count_cases(client: TestClient) -> int:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_respond_async_is_202_then_the_case_goes_queued_running_answered(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew(block_on="slow")
    client = client_for(make_settings(tmp_path), crew)
    alice = make_account(client, "alice", "customer", "cust-a")

    response = client.post("/support/request", json={"message": "slow refund"}, headers={**alice, **ASYNC})

    assert response.status_code == 202, response.text
    body = response.json()
    case_id = body["case_id"]
    assert (
        body["status_url"] == f"/support/cases/{case_id}" and body["events_url"] == f"/support/cases/{case_id}/events"
    )
    assert body["status"] in ("queued", "running") and body["job_id"]
    assert response.headers["Preference-Applied"] == "respond-async"
    assert response.headers["Location"] == body["status_url"]
    wait_for(lambda: client.get(f"/support/cases/{case_id}", headers=alice).json()["status"] == "running")
    crew.release.set()
    case = wait_for(
        lambda: (c := client.get(f"/support/cases/{case_id}", headers=alice).json())["status"] == "answered" and c
    )
    assert case["messages"][-1]["author"] == "agent"


def test_without_the_header_the_request_waits_then_answers_202(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew(block_on="slow")
    client = client_for(make_settings(tmp_path, job_wait_seconds=1.0), crew)
    alice = make_account(client, "alice", "customer", "cust-a")
    warm = client.post("/support/request", json={"message": "first of the day"}, headers=alice).json()["case_id"]
    wait_for(lambda: client.get(f"/support/cases/{warm}", headers=alice).json()["status"] == "answered")

    quick = client.post("/support/request", json={"message": "invoice copy"}, headers=alice)
    started = time.monotonic()
    slow = client.post("/support/request", json={"message": "slow one"}, headers=alice)

    assert quick.status_code == 200 and quick.json()["status"] == "answered"
    assert slow.status_code == 202 and 0.9 < time.monotonic() - started < 10
    assert "Preference-Applied" not in slow.headers
    crew.release.set()
    case_id = slow.json()["case_id"]
    wait_for(lambda: client.get(f"/support/cases/{case_id}", headers=alice).json()["status"] == "answered")


def test_a_follow_up_takes_prefer_too(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew()
    client = client_for(make_settings(tmp_path), crew)
    alice = make_account(client, "alice", "customer", "cust-a")
    case_id = client.post("/support/request", json={"message": "invoice"}, headers=alice).json()["case_id"]

    response = client.post(f"/support/cases/{case_id}/messages", json={"text": "and?"}, headers={**alice, **ASYNC})

    assert response.status_code == 202 and response.json()["case_id"] == case_id
    wait_for(lambda: len(client.get(f"/support/cases/{case_id}", headers=alice).json()["messages"]) == 4)


def test_the_same_idempotency_key_returns_the_first_case_and_another_body_is_422(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    client = client_for(make_settings(tmp_path), FakeCrew())
    alice = make_account(client, "alice", "customer", "cust-a")
    key = {**alice, "Idempotency-Key": "order-42-refund"}

    first = client.post("/support/request", json={"message": "refund please"}, headers=key)
    again = client.post("/support/request", json={"message": "refund please"}, headers=key)
    other = client.post("/support/request", json={"message": "something else"}, headers=key)
    bob = make_account(client, "bob", "customer", "cust-b")
    bobs = client.post(
        "/support/request", json={"message": "refund please"}, headers={**bob, "Idempotency-Key": "order-42-refund"}
    )

    assert first.status_code == 200 and again.status_code == 200
    assert again.json()["case_id"] == first.json()["case_id"] and again.json()["response"] == first.json()["response"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert other.json()["errors"] == [{"field": "Idempotency-Key", "message": other.json()["detail"]}]
    assert bobs.status_code == 200 and bobs.json()["case_id"] != first.json()["case_id"]  # keys are per account
    assert count_cases(client) == 2
    bad = client.post("/support/request", json={"message": "x"}, headers={**alice, "Idempotency-Key": "has space"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_idempotency_key"


def test_concurrent_retries_with_one_key_open_one_case(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew(block_on="slow")
    client = client_for(make_settings(tmp_path, job_wait_seconds=0.5), crew)
    alice = make_account(client, "alice", "customer", "cust-a")
    headers = {**alice, "Idempotency-Key": "retry-storm-1"}
    statuses: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def send() -> None:
        response = client.post("/support/request", json={"message": "slow charge"}, headers=headers)
        with lock:
            statuses.append((response.status_code, response.json().get("case_id")))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    crew.release.set()

    assert count_cases(client) == 1
    case_ids = {case_id for code, case_id in statuses if code in (200, 202)}
    assert len(case_ids) == 1, statuses
    # A retry that came while the first had no case yet is told to retry (409), never given a second case.
    assert {code for code, _ in statuses} <= {200, 202, 409}
    final = client.post("/support/request", json={"message": "slow charge"}, headers=headers)
    wait_for(
        lambda: client.post("/support/request", json={"message": "slow charge"}, headers=headers).status_code == 200
    )
    assert final.json()["case_id"] in case_ids


def test_a_job_that_cannot_be_stored_leaves_no_case_behind(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    """The case and its job are stored in one transaction: a failure to store the job is a clear 503 and
    leaves no case that nothing would ever answer (an orphan the customer would wait on)."""
    client = client_for(make_settings(tmp_path), FakeCrew())
    alice = make_account(client, "alice", "customer", "cust-a")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE jobs RENAME TO jobs_away")
    try:
        response = client.post("/support/request", json={"message": "refund please"}, headers={**alice, **ASYNC})
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE jobs_away RENAME TO jobs")

    assert response.status_code == 503, response.text
    assert response.json()["code"] and response.json()["request_id"] and "Traceback" not in response.text
    assert count_cases(client) == 0
    retried = client.post("/support/request", json={"message": "refund please"}, headers={**alice, **ASYNC})
    assert retried.status_code == 202 and count_cases(client) == 1


def test_a_crew_failure_is_replayed_not_retried(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew(fail_with=RuntimeError("model down"))
    client = client_for(make_settings(tmp_path), crew)
    alice = make_account(client, "alice", "customer", "cust-a")
    headers = {**alice, "Idempotency-Key": "fails-once"}

    first = client.post("/support/request", json={"message": "refund"}, headers=headers)
    again = client.post("/support/request", json={"message": "refund"}, headers=headers)

    assert first.status_code == 502 and again.status_code == 502
    assert first.headers["X-Case-ID"] == again.headers["X-Case-ID"]
    assert len(crew.calls) == 1 and count_cases(client) == 1


def test_the_sweep_requeues_a_dead_holders_job_and_gives_up_after_the_attempts(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    crew = FakeCrew()
    settings = make_settings(tmp_path, job_max_attempts=2, job_sweep_seconds=3600)  # the test sweeps by hand
    client = client_for(settings, crew)
    alice = make_account(client, "alice", "customer", "cust-a")
    case_id = client.post("/support/request", json={"message": "invoice"}, headers=alice).json()["case_id"]
    state = client.app.state  # type: ignore[attr-defined]
    engine, service = state.engine, state.jobs

    def dead_job(attempts: int) -> str:
        # As a crashed process leaves it: running, held by nobody alive, its lease run out.
        with engine.begin() as conn:
            job_id = store.insert_job(
                conn,
                case_id=case_id,
                kind="follow_up",
                payload=_payload("still there?"),
                owner="api:gone:1:x",
                lease=timedelta(seconds=30),
            )
            conn.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="running", attempts=attempts, lease_expires_at=utcnow() - timedelta(seconds=1))
            )
        return job_id

    resumed = dead_job(attempts=1)
    assert service.sweep() == {"requeued": 1, "failed": 0}
    wait_for(lambda: store.get(engine, resumed).status == "answered")  # type: ignore[union-attr]
    assert crew.calls[-1]["message"] == "still there?"

    hopeless = dead_job(attempts=2)
    assert service.sweep() == {"requeued": 0, "failed": 1}
    job = store.get(engine, hopeless)
    assert job is not None and (job.status, job.error_code) == ("failed", "job_attempts_exhausted")
    case = client.get(f"/support/cases/{case_id}", headers=alice).json()
    assert (case["status"], case["error_code"]) == ("needs_human", "job_attempts_exhausted")


def _payload(message: str) -> dict[str, Any]:
    return {
        "message": message,
        "context": None,
        "changed_fields": [],
        "route": "auto",
        "decision": {"route": "auto", "emergency": False, "auto": False},
        "classification": None,
        "check_emergency": True,
        "history": [],
        "paged": False,
    }


def test_the_case_stream_carries_the_jobs_progress_while_it_is_open(
    client_for: Callable[..., TestClient], tmp_path: Path, make_account: MakeAccount
) -> None:
    client = client_for(make_settings(tmp_path), FakeCrew())
    alice = make_account(client, "alice", "customer", "cust-a")
    case_id = client.post("/support/request", json={"message": "invoice copy"}, headers=alice).json()["case_id"]

    def follow_up_later() -> None:
        time.sleep(0.5)  # the stream below is open by then
        client.post(f"/support/cases/{case_id}/messages", json={"text": "and the VAT?"}, headers={**alice, **ASYNC})

    later = threading.Thread(target=follow_up_later)
    later.start()
    text = client.get(f"/support/cases/{case_id}/events", params={"wait": 2.5}, headers=alice).text
    later.join()

    progress = [block.split("data: ", 1)[1] for block in text.split("\n\n") if block.startswith("event: progress")]
    kinds = [json.loads(data)["event"] for data in progress]
    assert kinds[-3:] == ["classified", "routed", "answered"], text
    assert '"route": "billing"' in progress[-2]
    assert "outcome" not in text  # the answer itself arrives as a message event
    assert not client.app.state.jobs.hub.has_subscribers()  # type: ignore[attr-defined]
