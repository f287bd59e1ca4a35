"""Paging against a real HTTP receiver on 127.0.0.1: signature, retries while the receiver is down,
re-paging, acknowledgement, the secondary webhook, restarts and several workers on one database."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bench.local_receiver import LocalReceiver, Received
from desk.models import Case, utcnow
from desk.oncall.models import OncallCase, Page
from desk.oncall.signing import SIGNATURE_HEADER
from tests.oncall.conftest import DEADLINE, WEBHOOK_SECRET, fast_settings
from tests.oncall.fakes import RecordingCrew

Account = Callable[..., dict[str, str]]
Apps = Callable[..., TestClient]
SECRET_WORDS = "my card number is 4111 1111 1111 1111 and the smoke alarm is beeping"


def emergency(client: TestClient, headers: dict[str, str], message: str = SECRET_WORDS) -> str:
    response = client.post("/support/request", json={"message": message, "emergency": True}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["case_id"])


def keys(received: list[Received]) -> Counter[str]:
    return Counter(r.idempotency_key for r in received)


def pages_of(client: TestClient, case_id: str) -> list[Page]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Page).where(Page.case_id == case_id).order_by(Page.series)))


def test_page_arrives_signed_with_idempotency_key_and_no_personal_data(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url)
    client = apps(settings, crew)
    alice = account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": SECRET_WORDS, "emergency": True}, headers=alice)
    body = response.json()
    assert (body["status"], body["priority"], body["agent_type"]) == ("escalated", "urgent", "escalation")
    assert "We are paging the person on call now" in body["response"] and crew.calls[-1]["emergency"] is True

    assert receiver.wait_for(lambda r: len(r) == 1, DEADLINE)
    page = receiver.received[0]
    assert page.signature_ok, page.headers.get(SIGNATURE_HEADER.lower())
    assert page.idempotency_key == f"{body['case_id']}.0.primary"
    payload = page.payload
    assert payload["case_id"] == body["case_id"] and payload["customer_id"] == "cust-a"
    assert payload["priority"] == "urgent" and payload["reason"] == "emergency" and payload["target"] == "primary"
    assert payload["link"] == f"https://desk.example.test/oncall?case={body['case_id']}"
    # The card number as written, not its first digits: a timestamp's microseconds may contain "4111".
    assert "4111 1111" not in page.body.decode() and "smoke" not in page.body.decode()

    # Tampering with the body or the secret breaks the signature.
    from desk.oncall.signing import verify

    header = page.headers[SIGNATURE_HEADER.lower()]
    assert not verify(WEBHOOK_SECRET, header, page.body.replace(b"urgent", b"low"), now=time.time())
    assert not verify("another-secret", header, page.body, now=time.time())

    deadline = time.monotonic() + DEADLINE
    while pages_of(client, body["case_id"])[0].status != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    events = [json.loads(line)["event"] for line in settings.audit_log_file.read_text().splitlines()]
    assert "oncall_page_queued" in events and "oncall_page_sent" in events


def test_receiver_down_then_up_delivers_every_page_exactly_once(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    with LocalReceiver(WEBHOOK_SECRET, start=False) as receiver:
        settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url)
        client = apps(settings, crew)
        alice = account(client, "alice", "customer", "cust-a")
        case_ids = [emergency(client, alice) for _ in range(5)]
        # Down: connections refused; every page is retried with backoff and stays pending.
        deadline = time.monotonic() + DEADLINE
        while not all(p.attempts >= 2 for c in case_ids for p in pages_of(client, c)):
            assert time.monotonic() < deadline, "pages were not retried while the receiver was down"
            time.sleep(0.05)
        assert all(
            p.status == "pending" and p.last_error == "connect_error" for c in case_ids for p in pages_of(client, c)
        )
        # Up, but failing: still retried, still pending.
        receiver.answer_with(503)
        receiver.up()
        assert receiver.wait_for(lambda r: len(r) >= 10, DEADLINE)
        assert all(p.status == "pending" for c in case_ids for p in pages_of(client, c))
        receiver.answer_with(200)
        expected = {f"{c}.0.primary" for c in case_ids}
        assert receiver.wait_for(lambda r: expected <= set(keys([x for x in r if x.status == 200])), DEADLINE)
        time.sleep(0.5)  # several worker ticks: a double delivery would show now
        delivered = keys(receiver.delivered())
        assert delivered == Counter(dict.fromkeys(expected, 1))
        assert all(p.status == "delivered" for c in case_ids for p in pages_of(client, c))


def test_unacknowledged_case_is_repaged_then_sent_to_the_secondary(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    with LocalReceiver(WEBHOOK_SECRET) as secondary:
        settings = fast_settings(
            tmp_path,
            oncall_webhook_url=receiver.url,
            oncall_ack_timeout_seconds=0.3,
            oncall_max_repages=2,
            oncall_secondary_webhook_url=secondary.url,
        )
        client = apps(settings, crew)
        case_id = emergency(client, account(client, "alice", "customer", "cust-a"))
        assert secondary.wait_for(lambda r: len(r) == 1, DEADLINE)
        time.sleep(1.0)  # > 3 ack timeouts: nothing more may come once the secondary is paged
        assert [r.idempotency_key for r in receiver.delivered()] == [f"{case_id}.{n}.primary" for n in range(3)]
        assert [r.payload["reason"] for r in receiver.delivered()] == ["emergency", "repage", "repage"]
        assert [r.idempotency_key for r in secondary.delivered()] == [f"{case_id}.3.secondary"]
        assert secondary.delivered()[0].signature_ok


def test_acknowledged_case_is_not_repaged(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    # The staff member must acknowledge within the ack timeout of the page's delivery: 1 s, not less, as a loaded
    # test machine can take a few hundred milliseconds between seeing the page and the acknowledgement.
    settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url, oncall_ack_timeout_seconds=1.0)
    client = apps(settings, crew)
    case_id = emergency(client, account(client, "alice", "customer", "cust-a"))
    staff = account(client, "sam", "staff")
    assert receiver.wait_for(lambda r: len(r) == 1, DEADLINE)
    acked = client.post(f"/support/cases/{case_id}/ack", headers=staff)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    time.sleep(2.5)  # more than two ack timeouts
    assert len(receiver.received) == 1
    queue = client.get("/support/oncall/queue", headers=staff).json()
    item = next(i for i in queue["items"] if i["case_id"] == case_id)
    assert item["acknowledged_by"] == "sam" and item["repages"] == 0 and item["time_to_breach_seconds"] is None
    events = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    assert any(e["event"] == "oncall_ack" and e["actor"] == "sam" and e["case_id"] == case_id for e in events)


def test_api_restarted_mid_retry_still_delivers(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    with LocalReceiver(WEBHOOK_SECRET, start=False) as receiver:
        settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url)
        first = apps(settings, crew)
        case_id = emergency(first, account(first, "alice", "customer", "cust-a"))
        deadline = time.monotonic() + DEADLINE
        while pages_of(first, case_id)[0].attempts < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.__exit__(None, None, None)  # the API goes away mid-retry
        stopped = pages_of(first, case_id)[0]
        assert stopped.status == "pending" and stopped.claimed_by is None

        receiver.up()
        time.sleep(0.3)
        assert receiver.received == []  # nobody is running: nothing can have been sent
        apps(settings, RecordingCrew())  # a new process on the same database
        assert receiver.wait_for(lambda r: len(r) == 1, DEADLINE)
        time.sleep(0.3)
        assert [r.idempotency_key for r in receiver.received] == [f"{case_id}.0.primary"]


def test_a_page_claimed_by_a_dead_worker_is_taken_over_after_its_lease(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path)  # no webhook: the page stays in the outbox
    client = apps(settings, crew)
    case_id = emergency(client, account(client, "alice", "customer", "cust-a"))
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        session.execute(
            update(Page)
            .where(Page.case_id == case_id)
            .values(claimed_by="crashed-host:1:deadbeef", claim_expires_at=utcnow() + timedelta(seconds=1))
        )
    client.__exit__(None, None, None)
    apps(fast_settings(tmp_path, oncall_webhook_url=receiver.url), crew)
    time.sleep(0.5)
    assert receiver.received == []  # the lease still holds
    assert receiver.wait_for(lambda r: len(r) == 1, DEADLINE)
    assert receiver.received[0].idempotency_key == f"{case_id}.0.primary"


def test_two_api_processes_on_one_database_never_deliver_a_page_twice(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    quiet = fast_settings(tmp_path)  # no webhook yet: pages pile up in the outbox
    client = apps(quiet, crew)
    alice = account(client, "alice", "customer", "cust-a")
    case_ids = [emergency(client, alice) for _ in range(30)]
    client.__exit__(None, None, None)
    settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url)
    apps(settings, crew)
    apps(settings, crew)  # both workers wake to the same 30 due pages at once
    expected = {f"{c}.0.primary" for c in case_ids}
    assert receiver.wait_for(lambda r: expected <= set(keys(r)), DEADLINE)
    time.sleep(0.5)
    assert keys(receiver.received) == Counter(dict.fromkeys(expected, 1))


def test_emergency_stored_without_a_page_is_paged_by_the_reconcile_sweep(
    tmp_path: Path, apps: Apps, account: Account, receiver: LocalReceiver, crew: RecordingCrew
) -> None:
    settings = fast_settings(tmp_path, oncall_webhook_url=receiver.url)
    client = apps(settings, crew)
    case_id = emergency(client, account(client, "alice", "customer", "cust-a"))
    assert receiver.wait_for(lambda r: len(r) == 1, DEADLINE)
    # Simulate a crash between the case's commit and the outbox's: no paging state, an older case.
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        session.query(Page).delete()
        session.query(OncallCase).delete()
        session.execute(update(Case).where(Case.id == case_id).values(created_at=utcnow() - timedelta(seconds=30)))
    client.__exit__(None, None, None)
    apps(settings, crew)
    assert receiver.wait_for(lambda r: len(r) == 2, DEADLINE)
    assert receiver.received[1].idempotency_key == f"{case_id}.0.primary"


def test_retries_and_repages_leave_when_due_not_at_the_next_poll(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    # A poll far longer than the test: every retry and re-page below can only come from the worker sleeping
    # until the outbox's next due instant.
    with LocalReceiver(WEBHOOK_SECRET, start=False) as receiver:
        settings = fast_settings(
            tmp_path,
            oncall_webhook_url=receiver.url,
            oncall_worker_poll_seconds=600.0,
            oncall_ack_timeout_seconds=0.5,
            oncall_max_repages=1,
        )
        client = apps(settings, crew)
        case_id = emergency(client, account(client, "alice", "customer", "cust-a"))
        deadline = time.monotonic() + DEADLINE
        while pages_of(client, case_id)[0].attempts < 3:
            assert time.monotonic() < deadline, "the failed page was not retried at its backoff"
            time.sleep(0.05)
        receiver.up()
        expected = [f"{case_id}.0.primary", f"{case_id}.1.primary"]
        assert receiver.wait_for(lambda r: [x.idempotency_key for x in r if x.status == 200] == expected, DEADLINE)
        assert [r.payload["reason"] for r in receiver.delivered()] == ["emergency", "repage"]
