"""A case as a conversation, through HTTP: subject and language on the case, staff names on replies, only the
articles an answer cites (with excerpt and link), the article itself, the queues by kind, and the case's
event stream."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from crew.models import Citation
from tests.oncall.conftest import fast_settings
from tests.oncall.fakes import RecordingCrew

Account = Callable[..., dict[str, str]]
Apps = Callable[..., TestClient]
GERMAN = "Ich wurde diesen Monat zweimal belastet, bitte erstatten Sie eine Zahlung"


def test_a_case_has_a_subject_and_a_language_and_the_local_model_says_it_answers_in_english(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice = account(client, "alice", "customer", "cust-a")
    body = client.post("/support/request", json={"message": f"{GERMAN}\nDanke!"}, headers=alice).json()
    case = client.get("/support/cases", headers=alice).json()["items"][0]
    assert (case["subject"], case["language"]) == (GERMAN, "de")
    assert body["response"].startswith("Unsere automatischen Antworten gibt es nur auf Englisch")
    assert body["status"] == "answered"
    english = client.post("/support/request", json={"message": "I was charged twice this month"}, headers=alice)
    assert not english.json()["response"].startswith("Unsere")


def test_a_setting_sends_other_languages_to_a_person(tmp_path: Path, apps: Apps, account: Account) -> None:
    client = apps(fast_settings(tmp_path, non_english_to_human=True), RecordingCrew())
    alice = account(client, "alice", "customer", "cust-a")
    body = client.post("/support/request", json={"message": GERMAN}, headers=alice).json()
    assert body["status"] == "needs_human" and "antwortet Ihnen auf Deutsch" in body["response"]


def test_only_cited_articles_are_listed_with_excerpt_and_link_and_the_article_opens(
    tmp_path: Path, apps: Apps, account: Account
) -> None:
    crew = RecordingCrew(
        reply="Check Billing > Payments for both charges [KB-005].",
        citations=(Citation(article_id="KB-005", title="Duplicate charge"), Citation(article_id="KB-002", title="VAT")),
    )
    client = apps(fast_settings(tmp_path), crew)
    alice = account(client, "alice", "customer", "cust-a")
    citations = client.post("/support/request", json={"message": "charged twice"}, headers=alice).json()["citations"]
    assert [c["article_id"] for c in citations] == ["KB-005"]
    assert citations[0]["url"] == "/kb/articles/KB-005" and len(citations[0]["excerpt"]) > 20

    article = client.get(citations[0]["url"], headers=alice)
    assert article.status_code == 200 and article.json()["body"].strip()
    assert client.get("/kb/articles/KB-999", headers=alice).status_code == 404
    assert client.get("/kb/articles/KB-005").status_code == 401


def test_staff_replies_carry_the_staff_name_and_the_queues_split_by_kind(
    tmp_path: Path, apps: Apps, account: Account
) -> None:
    client = apps(fast_settings(tmp_path), RecordingCrew(human_markers=("a person",)))
    alice, staff = account(client, "alice", "customer", "cust-a"), account(client, "sam", "staff")
    emergency = client.post("/support/request", json={"message": "fire", "emergency": True}, headers=alice).json()
    handoff = client.post("/support/request", json={"message": "i need a person"}, headers=alice).json()

    def queue(kind: str) -> list[str]:
        items = client.get("/support/oncall/queue", params={"kind": kind}, headers=staff).json()["items"]
        return [item["case_id"] for item in items]

    assert queue("emergency") == [emergency["case_id"]] and queue("needs_human") == [handoff["case_id"]]
    reply = client.post(f"/support/cases/{handoff['case_id']}/messages", json={"text": "On it."}, headers=staff)
    assert reply.json()["messages"][-1]["author_name"] == "sam"


def test_the_event_stream_replays_the_thread_and_the_status(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice, bob = account(client, "alice", "customer", "cust-a"), account(client, "bob", "customer", "cust-b")
    case_id = client.post("/support/request", json={"message": "invoice copy"}, headers=alice).json()["case_id"]

    with client.stream("GET", f"/support/cases/{case_id}/events", params={"wait": 0.2}, headers=alice) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [block for block in text.split("\n\n") if block.strip()]
    kinds = [line.split(": ", 1)[1] for block in events for line in block.splitlines() if line.startswith("event:")]
    assert kinds == ["message", "message", "status"]
    first = json.loads(next(line for line in events[0].splitlines() if line.startswith("data:"))[6:])
    assert first["author"] == "customer" and first["text"] == "invoice copy"

    resumed = client.get(
        f"/support/cases/{case_id}/events", params={"wait": 0.1}, headers={**alice, "Last-Event-ID": "2"}
    )
    assert "event: message" not in resumed.text and "event: status" in resumed.text
    assert client.get(f"/support/cases/{case_id}/events", params={"wait": 0.1}, headers=bob).status_code == 404


def test_the_crew_gets_the_customers_profile_with_their_other_cases(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path), crew)
    alice = account(client, "alice", "customer", "cust-a")
    client.post("/support/request", json={"message": "my invoice is wrong"}, headers=alice)
    client.post("/support/request", json={"message": "the app crashes"}, headers=alice)
    profile = (crew.calls[-1]["context"] or {})["customer_profile"]
    assert profile["recent_subjects"] == ["my invoice is wrong"]


def test_no_customer_data_reaches_a_hosted_model_unless_allowed(
    tmp_path: Path, apps: Apps, account: Account, crew: RecordingCrew
) -> None:
    client = apps(fast_settings(tmp_path, support_llm_model="openai/gpt-4o-mini"), crew)
    alice = account(client, "alice", "customer", "cust-a")
    client.post("/support/request", json={"message": "my invoice is wrong"}, headers=alice)
    client.post("/support/request", json={"message": "the app crashes"}, headers=alice)
    assert "customer_profile" not in (crew.calls[-1]["context"] or {})
