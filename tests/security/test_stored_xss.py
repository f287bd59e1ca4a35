"""F1 through the API: look-alike and entity-encoded tags are neither stored nor returned as markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]


@pytest.mark.parametrize(
    "message",
    [
        "&#xFF1C;script&#xFF1E;alert(1)&#xFF1C;/script&#xFF1E; refund",  # the probe's payload
        "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e refund",
        "\ufe64script\ufe65alert(1)\ufe64/script\ufe65 refund",
        "&#xFE64;img src=x onerror=alert(1)&#xFE65; refund",
        "\uff1csvg onload=alert(1)\uff1e refund",
        "&lt;iframe src=javascript:alert(1)&gt;&lt;/iframe&gt; refund",
    ],
)
def test_lookalike_markup_is_stored_as_its_text_only(
    tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount, message: str
) -> None:
    client = client_for(make_settings(tmp_path, rate_limit_per_minute=100_000), FakeCrew())
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": message, "context": {"note": message}}, headers=headers)
    assert response.status_code == 200, response.text
    case = client.get(f"/support/cases/{response.json()['case_id']}", headers=headers).json()
    assert case["messages"][0]["text"] == "refund"
    assert case["sanitised"] is True


def test_a_message_that_is_only_a_script_is_refused_as_empty(
    tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    client = client_for(make_settings(tmp_path), FakeCrew())
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": "<script>alert(1)</script>"}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "message"
    assert client.get("/support/cases", headers=headers).json()["total"] == 0
