"""Honest handoff, through HTTP: a reply says a person will take over only when the case is in a people's
queue and says by when; it says on-call is being paged only when a page is queued and a pager is set up;
only staff take a case out of the queues."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from bench.local_receiver import LocalReceiver
from tests.oncall.conftest import fast_settings
from tests.oncall.fakes import RecordingCrew

Account = Callable[..., dict[str, str]]
Apps = Callable[..., TestClient]
BY_WHEN = re.compile(r"a person will (reply here|respond) by \d{1,2}:\d{2} UTC on \d{1,2} \w{3} \d{4}")


def test_asking_for_a_person_puts_the_case_in_the_queue_and_the_reply_says_by_when(
    tmp_path: Path, apps: Apps, account: Account
) -> None:
    crew = RecordingCrew(human_markers=("a person",))
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")

    answered = client.post("/support/request", json={"message": "invoice copy please"}, headers=alice).json()
    handed = client.post("/support/request", json={"message": "let me talk to a person"}, headers=alice).json()

    assert answered["status"] == "answered" and "queue" not in answered["response"]
    assert handed["status"] == "needs_human"
    assert "in our team's queue" in handed["response"] and BY_WHEN.search(handed["response"])
    queue = client.get("/support/oncall/queue", headers=staff).json()["items"]
    assert [item["case_id"] for item in queue] == [handed["case_id"]]


def test_an_answer_with_no_article_goes_to_a_person(tmp_path: Path, apps: Apps, account: Account) -> None:
    client = apps(fast_settings(tmp_path), RecordingCrew(citations=()))
    alice = account(client, "alice", "customer", "cust-a")
    body = client.post("/support/request", json={"message": "something odd"}, headers=alice).json()
    assert body["status"] == "needs_human" and BY_WHEN.search(body["response"])


def test_follow_ups_never_take_a_case_out_of_the_queue_and_that_did_not_help_hands_over(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    case_id = client.post("/support/request", json={"message": "invoice copy"}, headers=alice).json()["case_id"]

    unhappy = client.post(f"/support/cases/{case_id}/messages", json={"text": "that didn't help"}, headers=alice)
    assert unhappy.json()["status"] == "needs_human"
    calls = len(crew.calls)
    waiting = client.post(f"/support/cases/{case_id}/messages", json={"text": "any news?"}, headers=alice)
    assert waiting.json()["status"] == "needs_human" and len(crew.calls) == calls  # stored for people only

    note = "Refund issued on our side; it shows in 3 days."
    back = client.post(f"/support/cases/{case_id}/handback", json={"note": note}, headers=staff).json()
    assert back["status"] == "open"
    assert back["messages"][-1]["author"] == "staff" and back["messages"][-1]["text"] == note


def test_without_a_pager_no_reply_claims_on_call_was_paged(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)  # no ONCALL_WEBHOOK_URL
    alice = account(client, "alice", "customer", "cust-a")
    body = client.post("/support/request", json={"message": "fire", "emergency": True}, headers=alice).json()
    assert "paging" not in body["response"] and "top of our team's urgent queue" in body["response"]
    assert BY_WHEN.search(body["response"])


def test_with_a_pager_the_reply_says_on_call_is_being_paged(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew, receiver: LocalReceiver
) -> None:
    client = apps(fast_settings(tmp_path, oncall_webhook_url=receiver.url), crew)
    alice = account(client, "alice", "customer", "cust-a")
    body = client.post("/support/request", json={"message": "fire", "emergency": True}, headers=alice).json()
    assert "We are paging the person on call now" in body["response"]


def test_out_of_scope_gets_an_honest_short_reply_is_not_escalated_and_never_pages(
    tmp_path: Path, apps: Apps, account: Account
) -> None:
    crew = RecordingCrew(out_of_scope_markers=("weather",), urgent_markers=("weather",))
    client = apps(fast_settings(tmp_path), crew)
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    calls = len(crew.calls)
    body = client.post("/support/request", json={"message": "what's the weather in Berlin tomorrow"}, headers=alice)
    reply = body.json()
    assert reply["status"] == "answered" and reply["agent_type"] == "general" and reply["citations"] == []
    assert "outside what this support desk can help with" in reply["response"]
    assert "person" not in reply["response"] and len(crew.calls) == calls  # no crew call, no promise
    assert client.get("/support/oncall/pages", headers=staff).json()["total"] == 0
    assert client.get("/support/oncall/queue", headers=staff).json()["total"] == 0
