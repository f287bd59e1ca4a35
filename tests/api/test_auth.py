"""Login and token checks through HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from jose import jwt

from desk.settings import Settings
from security.tokens import create_access_token
from tests.api.conftest import PASSWORD, SECRET, make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]


def _login(client: TestClient, username: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    response = client.post("/auth/token", data={"username": username, "password": password})
    return response.status_code, response.json()


def _token(role: str = "customer", **overrides: object) -> str:
    claims: dict[str, object] = {
        "sub": "alice",
        "role": role,
        "customer_id": "cust-a",
        "jti": "x",
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()),
    }
    claims.update(overrides)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _get_cases(client: TestClient, token: str) -> tuple[int, dict[str, object], str]:
    response = client.get("/support/cases", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json(), response.headers.get("www-authenticate", "")


def test_login_returns_a_bearer_token_with_the_claims(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    status, body = _login(client, "alice")
    assert status == 200 and body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
    claims = jwt.get_unverified_claims(str(body["access_token"]))
    assert {"sub", "role", "customer_id", "exp", "iat", "jti"} <= set(claims)
    assert claims["role"] == "customer" and claims["customer_id"] == "cust-a"
    assert _get_cases(client, str(body["access_token"]))[0] == 200


def test_unknown_user_and_wrong_password_get_the_same_answer(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    wrong_status, wrong = _login(client, "alice", "not-the-password")
    unknown_status, unknown = _login(client, "mallory", "not-the-password")
    assert wrong_status == unknown_status == 401
    wrong.pop("request_id"), unknown.pop("request_id")
    assert wrong == unknown


def test_expired_token_rejected(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    token, _ = create_access_token(
        subject="alice",
        role="customer",
        customer_id="cust-a",
        secret=SECRET,
        algorithm="HS256",
        expires_minutes=1,
        now=datetime.now(UTC) - timedelta(minutes=10),
    )
    status, body, challenge = _get_cases(client, token)
    assert status == 401 and body["code"] == "not_authenticated" and challenge == "Bearer"


def test_tampered_token_rejected(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    header, payload, signature = _token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _get_cases(client, f"{header}.{forged}.{signature}")[0] == 401


def test_alg_none_token_rejected(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = _token().split(".")[1]
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        assert _get_cases(client, token)[0] == 401


def test_wrong_secret_and_other_algorithm_rejected(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    claims = jwt.get_unverified_claims(_token())
    other_secret = "another-secret-of-sufficient-length-000"
    assert _get_cases(client, jwt.encode(claims, other_secret, algorithm="HS256"))[0] == 401
    assert _get_cases(client, jwt.encode(claims, SECRET, algorithm="HS512"))[0] == 401
    assert _get_cases(client, "not-a-jwt")[0] == 401


def test_missing_claim_and_unknown_account_rejected(client: TestClient, make_account: MakeAccount) -> None:
    make_account(client, "alice", "customer", "cust-a")
    claims = jwt.get_unverified_claims(_token())
    del claims["jti"]
    assert _get_cases(client, jwt.encode(claims, SECRET, algorithm="HS256"))[0] == 401
    assert _get_cases(client, _token(sub="ghost"))[0] == 401
    # A role claim that does not match the stored account is refused too.
    assert _get_cases(client, _token(role="admin"))[0] == 401


def test_missing_token_is_401_with_bearer_challenge(client: TestClient) -> None:
    response = client.post("/support/request", json={"message": "hi"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "code", "request_id"}


def test_login_attempts_limited_per_username_and_address(
    tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    settings: Settings = make_settings(tmp_path, login_rate_limit="3/minute")
    client = client_for(settings, FakeCrew())
    make_account(client, "alice", "customer", "cust-a")
    assert [_login(client, "alice", "wrong")[0] for _ in range(3)] == [401, 401, 401]
    response = client.post("/auth/token", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    make_account(client, "bob", "customer", "cust-b")
    assert _login(client, "bob")[0] == 200


def test_login_events_are_audited_without_passwords(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    make_account(client, "alice", "customer", "cust-a")
    _login(client, "alice")
    _login(client, "alice", "Sup3rSecretGuess!")
    _get_cases(client, "garbage")
    log = settings.audit_log_file.read_text()
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert {"login_succeeded", "login_failed", "token_rejected"} <= set(events)
    assert "Sup3rSecretGuess!" not in log and PASSWORD not in log and "garbage" not in log
