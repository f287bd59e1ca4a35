"""Real XSS and SQL-injection payloads (PayloadsAllTheThings lists in ../shared/datasets/payloads) sent
through the API: never a 5xx, stored and echoed only sanitised, and the database intact afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crew.models import SupportResult
from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]
# What an HTML parser opens a tag, comment or declaration with ("< b" with a space is text).
TAG = re.compile(r"<[A-Za-z!/?]")


class EchoCrew(FakeCrew):
    """Replies with markup around the (already sanitised) message, as a careless model might."""

    def handle(self, message: str, **kwargs: Any) -> SupportResult:  # type: ignore[override]
        result = super().handle(message, **kwargs)
        return result.model_copy(update={"reply": f"<script>steal()</script><b>{message}</b>"})


def _payloads(folder: Path) -> list[str]:
    lines: list[str] = []
    for file in sorted(folder.glob("*")):
        lines += [line for line in file.read_text(errors="replace").splitlines() if line.strip()]
    return lines


@pytest.fixture
def payload_client(tmp_path: Path, client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(make_settings(tmp_path, rate_limit_per_minute=100_000), EchoCrew())


def _check(client: TestClient, headers: Mapping[str, str], payloads: Sequence[str]) -> tuple[int, int]:
    stored = rejected = 0
    for payload in payloads:
        response = client.post(
            "/support/request", json={"message": payload, "context": {"note": payload}}, headers=headers
        )
        assert response.status_code < 500, (payload, response.text)
        if response.status_code == 422:
            rejected += 1
            continue
        assert response.status_code == 200, (payload, response.text)
        body = response.json()
        assert not TAG.search(body["response"]), (payload, body["response"])
        case = client.get(f"/support/cases/{body['case_id']}", headers=headers).json()
        for message in case["messages"]:
            assert not TAG.search(message["text"]), (payload, message["text"])
        if TAG.search(payload):
            assert case["sanitised"] is True
        stored += 1
    return stored, rejected


@pytest.mark.slow
def test_xss_payloads_are_stored_and_echoed_only_sanitised(
    shared_datasets: Path, payload_client: TestClient, make_account: MakeAccount
) -> None:
    headers = make_account(payload_client, "alice", "customer", "cust-a")
    payloads = _payloads(shared_datasets / "payloads" / "xss")
    assert len(payloads) > 1000
    stored, _rejected = _check(payload_client, headers, payloads)
    assert stored > len(payloads) // 2  # most payloads leave some text behind; the rest are empty -> 422


@pytest.mark.slow
def test_sql_injection_payloads_are_inert(
    shared_datasets: Path, payload_client: TestClient, make_account: MakeAccount
) -> None:
    headers = make_account(payload_client, "alice", "customer", "cust-a")
    payloads = _payloads(shared_datasets / "payloads" / "sqli")
    stored, _ = _check(payload_client, headers, payloads)
    # Parameterised queries: every case is there, once, and the accounts table survived "DROP TABLE".
    assert payload_client.get("/support/cases", headers=headers).json()["total"] == stored
    assert payload_client.post("/support/classify", json={"message": "still here?"}, headers=headers).status_code == 200
