"""One request through the real crew (local deterministic model: no key, no network), built by the app
itself at startup as in production."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_settings

MakeAccount = Callable[..., dict[str, str]]


@pytest.mark.slow
def test_request_through_the_real_local_crew(
    tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    pytest.importorskip("crew.service", reason="the crew service is not available")
    settings = make_settings(
        tmp_path, crewai_storage_dir=tmp_path / "crewai", support_llm_model="", support_classifier_model=""
    )
    client = client_for(settings, None)
    deadline = time.monotonic() + 180
    while client.get("/readyz").json().get("checks", {}).get("crew") == "loading":
        assert time.monotonic() < deadline, "crew did not load"
        time.sleep(0.5)
    assert client.get("/readyz").status_code == 200
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post(
        "/support/request",
        headers=headers,
        json={"message": "I was charged twice for my subscription this month, please refund."},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] and body["agent_type"] == "billing" and body["status"] == "answered"
    case = client.get(f"/support/cases/{body['case_id']}", headers=headers).json()
    assert [m["author"] for m in case["messages"]] == ["customer", "agent"]
    classified = client.post("/support/classify", json={"message": "The app crashes on start"}, headers=headers)
    assert classified.status_code == 200 and classified.json()["route"] == "technical"
