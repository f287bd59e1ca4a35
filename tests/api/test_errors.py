"""The one error shape, request ids and body-size limits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from desk.settings import Settings
from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew

MakeAccount = Callable[..., dict[str, str]]
SHAPE = {"detail", "code", "request_id"}


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and set(missing.json()) == SHAPE
    wrong_method = client.get("/support/request")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"


def test_validation_errors_name_the_field_without_echoing_input(client: TestClient, make_account: MakeAccount) -> None:
    headers = make_account(client, "shop", "integrator")
    response = client.post(
        "/support/request", json={"message": "hi", "customer_id": "bad id; DROP TABLE"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer_id" and "DROP" not in response.text
    extra = client.post("/support/request", json={"message": "hi", "customer_id": "c1", "admin": True}, headers=headers)
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "admin"
    assert (
        client.post(
            "/support/request", content=b"{not json", headers={**headers, "content-type": "application/json"}
        ).status_code
        == 422
    )


def test_request_id_is_kept_or_assigned(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123-def"}).headers["x-request-id"] == "abc-123-def"
    generated = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"]
    assert len(generated) == 32 and generated.isalnum()


def test_oversized_body_by_content_length_is_413(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    response = client.post("/support/request", json={"message": "x" * (settings.max_body_bytes + 10)}, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_oversized_streamed_body_is_413(client: TestClient, make_account: MakeAccount, settings: Settings) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"y" * 1000
        yield b'"}'

    # A generator body is sent chunked, without Content-Length: only counting the bytes catches it.
    response = client.post(
        "/support/request", content=chunks(), headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_too_long_and_empty_after_cleaning_messages_are_422(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    too_long = client.post(
        "/support/request", json={"message": "z" * (settings.max_message_length + 1)}, headers=headers
    )
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "message"
    empty = client.post("/support/request", json={"message": "<script></script>\u0000 "}, headers=headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "message"


def test_context_size_and_depth_are_limited(client: TestClient, make_account: MakeAccount) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    deep: dict[str, object] = {"v": 1}
    for _ in range(6):
        deep = {"d": deep}
    assert (
        client.post("/support/request", json={"message": "hi", "context": deep}, headers=headers).json()["errors"][0][
            "field"
        ]
        == "context"
    )
    big = {"blob": "b" * 9000}
    assert client.post("/support/request", json={"message": "hi", "context": big}, headers=headers).status_code == 422
    ok = client.post("/support/request", json={"message": "hi", "context": {"plan": "<b>pro</b>"}}, headers=headers)
    assert ok.status_code == 200


def test_a_locked_database_is_a_retryable_503_then_the_same_request_works(
    client_for: Callable[..., TestClient], tmp_path: Path, fake_crew: FakeCrew, make_account: MakeAccount
) -> None:
    # Another writer (another API process on the same SQLite file) holds the lock past the busy timeout.
    settings = make_settings(tmp_path, database_busy_timeout_seconds=0.2)
    client = client_for(settings, fake_crew)
    headers = make_account(client, "alice", "customer", "cust-a")
    blocker = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post("/support/request", json={"message": "I was charged twice"}, headers=headers)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "database_busy" and body["request_id"] and response.headers["Retry-After"] == "5"
    assert "locked" not in response.text and "INSERT" not in response.text and "Traceback" not in response.text
    retried = client.post("/support/request", json={"message": "I was charged twice"}, headers=headers)
    assert retried.status_code == 200 and retried.json()["case_id"]
