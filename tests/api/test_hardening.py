"""Inputs that used to be 500s (security probe, finding F2) are clean 4xx answers in the desk's error shape.

Every test runs on SQLite and on the PostgreSQL server on 127.0.0.1:5432 (a throw-away schema; skipped when
it does not answer). PostgreSQL refuses NUL characters in text, so a NUL that reached a query was a 500 there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]
ROLES = ("customer", "integrator", "staff", "admin")
HUGE_OFFSET = "9223372036854775808"  # 2**63: past every 64-bit integer column and bind parameter
PAGED = ("/support/cases", "/admin/audit", "/support/oncall/pages", "/support/oncall/queue")
# The roles each paged endpoint answers (the others are refused before the query parameters matter).
ALLOWED = {
    "/support/cases": set(ROLES),
    "/admin/audit": {"admin"},
    "/support/oncall/pages": {"staff", "admin"},
    "/support/oncall/queue": {"staff", "admin"},
}


@pytest.fixture
def client(database_url: str, tmp_path: Path, client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(make_settings(tmp_path, database_url=database_url, rate_limit_per_minute=100_000), FakeCrew())


@pytest.fixture
def headers(client: TestClient, make_account: MakeAccount) -> dict[str, dict[str, str]]:
    """Auth headers for one account of every role."""
    return {
        "customer": make_account(client, "alice", "customer", "cust-a"),
        "integrator": make_account(client, "web", "integrator"),
        "staff": make_account(client, "sam", "staff"),
        "admin": make_account(client, "root", "admin"),
    }


def assert_clean_4xx(response: httpx.Response, status: int = 422, field: str | None = None) -> dict[str, Any]:
    """The desk's error shape, the expected status, and (for 422) the field that was refused."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"detail", "code", "request_id"} <= set(body), body
    assert body["request_id"] == response.headers["x-request-id"]
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body


def _support_request(client: TestClient, headers: dict[str, str], raw_json: str) -> httpx.Response:
    """POST a body as typed: json= would refuse NaN and lone surrogates before they reach the API."""
    return client.post(
        "/support/request",
        content=raw_json.encode("utf-8"),
        headers={**headers, "Content-Type": "application/json"},
    )


# --- context ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [5, 400, 900])
def test_a_deeply_nested_context_is_a_422(client: TestClient, headers: dict[str, dict[str, str]], depth: int) -> None:
    context = '{"a":' * depth + "1" + "}" * depth
    response = _support_request(client, headers["customer"], f'{{"message": "hi", "context": {context}}}')
    assert_clean_4xx(response, 422, "context")


def test_a_context_too_deep_to_parse_is_a_clean_4xx(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    context = "[" * 50_000 + "]" * 50_000  # within the body limit, deeper than Python's JSON parser goes
    response = _support_request(client, headers["customer"], f'{{"message": "hi", "context": {context}}}')
    assert 400 <= response.status_code < 500, response.text
    assert_clean_4xx(response, response.status_code)


@pytest.mark.parametrize(
    "context",
    [
        '{"\\ud800": 1}',  # a lone surrogate in a key (the size check encoded it)
        '{"ok": "\\udfff"}',
        '{"ok": [{"k\\udc00": true}]}',
    ],
)
def test_a_lone_surrogate_in_the_context_is_a_422(
    client: TestClient, headers: dict[str, dict[str, str]], context: str
) -> None:
    response = _support_request(client, headers["customer"], f'{{"message": "hi", "context": {context}}}')
    assert_clean_4xx(response, 422, "context")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_a_non_finite_number_in_the_context_is_a_422(
    client: TestClient, headers: dict[str, dict[str, str]], number: str
) -> None:
    for context in (f'{{"n": {number}}}', f'{{"a": [1, {{"b": {number}}}]}}'):
        response = _support_request(client, headers["customer"], f'{{"message": "hi", "context": {context}}}')
        assert_clean_4xx(response, 422, "context")


def test_an_ordinary_context_is_still_accepted(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    body = '{"message": "I was charged twice", "context": {"plan": "pro", "amount": 12.5, "tags": ["a", null]}}'
    assert _support_request(client, headers["customer"], body).status_code == 200


# --- offsets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGED)
def test_a_huge_offset_is_a_422_for_every_role(
    client: TestClient, headers: dict[str, dict[str, str]], path: str
) -> None:
    for role in ROLES:
        response = client.get(path, params={"offset": HUGE_OFFSET}, headers=headers[role])
        if role in ALLOWED[path]:
            assert_clean_4xx(response, 422, "offset")
        else:
            assert_clean_4xx(response, 403)
        # The largest offset accepted still answers (an empty page).
        response = client.get(path, params={"offset": 10_000_000}, headers=headers[role])
        assert response.status_code == (200 if role in ALLOWED[path] else 403), (role, response.text)


# --- NUL characters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "password"), [("al\x00ice", PASSWORD), ("alice", "pass\x00word"), ("\x00", "x")])
def test_a_nul_in_the_login_form_is_a_422(
    client: TestClient, headers: dict[str, dict[str, str]], username: str, password: str
) -> None:
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert_clean_4xx(response, 422, "username" if "\x00" in username else "password")
    # Still no user of that name could sign in, and the real one still can.
    assert client.post("/auth/token", data={"username": "alice", "password": PASSWORD}).status_code == 200


CASE_ROUTES = [
    ("GET", "/support/cases/{id}", None),
    ("POST", "/support/cases/{id}/ack", None),
    ("POST", "/support/cases/{id}/messages", {"text": "hello"}),
    ("POST", "/support/cases/{id}/status", {"status": "resolved"}),
    ("PATCH", "/support/cases/{id}", {"status": "resolved"}),
    ("POST", "/support/cases/{id}/handback", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CASE_ROUTES)
def test_a_nul_in_a_case_id_is_a_422(
    client: TestClient, headers: dict[str, dict[str, str]], method: str, path: str, body: dict[str, str] | None
) -> None:
    for role in ("customer", "staff"):
        response = client.request(method, path.format(id="case%00x"), json=body, headers=headers[role])
        if response.status_code == 403:
            continue  # a staff-only action refused to a customer before the id is looked at
        assert_clean_4xx(response, 422, "case_id")
    # An unknown id without a NUL is an ordinary 404.
    assert_clean_4xx(client.request(method, path.format(id="no-such-case"), json=body, headers=headers["staff"]), 404)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/admin/audit", {"event": "login\x00failed"}, "event"),
        ("/support/oncall/pages", {"case_id": "case\x00x"}, "case_id"),
        ("/support/cases", {"customer_id": "cust\x00a"}, "customer_id"),
    ],
)
def test_a_nul_in_a_query_filter_is_a_422(
    client: TestClient, headers: dict[str, dict[str, str]], path: str, params: dict[str, str], field: str
) -> None:
    assert_clean_4xx(client.get(path, params=params, headers=headers["admin"]), 422, field)
    clean = {name: value.replace("\x00", "") for name, value in params.items()}
    assert client.get(path, params=clean, headers=headers["admin"]).status_code == 200


def test_an_account_password_with_a_nul_is_a_422(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    # The login form refuses a NUL, so no account may be given a password that holds one.
    account = {"username": "bob", "password": "pass\x00word-long", "role": "staff"}
    assert_clean_4xx(client.post("/admin/accounts", json=account, headers=headers["admin"]), 422, "password")
    account["password"] = "password-long"
    assert client.post("/admin/accounts", json=account, headers=headers["admin"]).status_code == 201


def test_a_nul_in_message_or_context_text_is_dropped_not_stored(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    body = {"message": "charged\x00 twice", "context": {"pl\x00an": ["p\x00ro"]}}
    response = client.post("/support/request", json=body, headers=headers["customer"])
    assert response.status_code == 200, response.text
    case = client.get(f"/support/cases/{response.json()['case_id']}", headers=headers["customer"]).json()
    assert case["messages"][0]["text"] == "charged twice" and case["sanitised"] is True
