"""The API client against `httpx.MockTransport`: request shapes, typed results and typed errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from web_interface.api_client import (
    AuthError,
    CaseStatus,
    CrewFailedError,
    EndpointMissingError,
    ForbiddenError,
    InputRejectedError,
    NotFoundError,
    RateLimitedError,
    Role,
    ServiceUnavailableError,
    SupportApiClient,
    SupportRoute,
    UnexpectedResponseError,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> SupportApiClient:
    return SupportApiClient("http://api.test", 5.0, transport=httpx.MockTransport(handler))


def error(status: int, code: str, detail: str = "Something.", **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", {})
    return httpx.Response(
        status, json={"detail": detail, "code": code, "request_id": "req-1", **extra}, headers=headers
    )


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.signature"


ANSWER = {
    "response": "Refunds take five days.",
    "agent_type": "billing",
    "timestamp": "2025-01-15T12:00:00Z",
    "case_id": "c-1",
    "category": "billing",
    "priority": "medium",
    "confidence": 0.8,
    "citations": [{"article_id": "KB-1", "title": "Refunds"}],
    "status": "answered",
    "degraded": False,
}


def test_sign_in_posts_the_password_form_and_reads_the_claims() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        token = jwt({"sub": "alice", "role": "customer", "customer_id": "CUST-1", "exp": 2_000_000_000})
        return httpx.Response(200, json={"access_token": token, "token_type": "bearer", "expires_in": 1800})

    auth = client(handler).sign_in("alice", "pw")
    assert seen[0].url.path == "/auth/token"
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen[0].content == b"username=alice&password=pw"
    assert (auth.username, auth.role, auth.customer_id) == ("alice", Role.CUSTOMER, "CUST-1")
    assert auth.expires_at.year == 2033 and not auth.expired()


def test_wrong_password_is_one_sentence() -> None:
    with pytest.raises(AuthError, match=r"^The username or password is not correct\.$"):
        client(lambda _: error(401, "not_authenticated")).sign_in("alice", "wrong")


@pytest.mark.parametrize(
    ("route", "path"),
    [
        (SupportRoute.AUTO, "/support/request"),
        (SupportRoute.BILLING, "/support/billing"),
        (SupportRoute.TECHNICAL, "/support/technical"),
        (SupportRoute.ESCALATION, "/support/escalation"),
        (SupportRoute.COMPLEX, "/support/complex"),
    ],
)
def test_submit_uses_the_route_endpoint_with_the_bearer_token(route: SupportRoute, path: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    result = client(handler).submit("tok", message="Refund?", route=route, customer_id="CUST-1", emergency=True)
    assert seen[0].url.path == path
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert json.loads(seen[0].content) == {"message": "Refund?", "customer_id": "CUST-1", "emergency": True}
    assert result.case_id == "c-1" and result.citations[0].title == "Refunds"


@pytest.mark.parametrize(
    ("response", "expected", "sentence"),
    [
        (error(429, "rate_limited", headers={"Retry-After": "17"}), RateLimitedError, "try again in 17 seconds"),
        (
            error(422, "input_rejected", "Message is empty after cleaning.", field="message"),
            InputRejectedError,
            "The description was not accepted: Message is empty after cleaning.",
        ),
        (
            httpx.Response(422, json={"detail": [{"loc": ["body", "customer_id"], "msg": "String should match"}]}),
            InputRejectedError,
            "The customer ID was not accepted: use 1 to 64 letters, digits or the characters - _ . : without spaces.",
        ),
        (error(413, "payload_too_large"), InputRejectedError, "longer than this service accepts"),
        (error(401, "token_expired"), AuthError, "sign in again"),
        (error(403, "forbidden"), ForbiddenError, "not allowed"),
        (error(404, "not_found"), NotFoundError, "could not be found"),
        (httpx.Response(404, json={"detail": "Not Found"}), EndpointMissingError, "not available"),
        (httpx.Response(405, json={"detail": "Method Not Allowed"}), EndpointMissingError, "not available"),
        (error(502, "crew_failed"), CrewFailedError, "It was saved"),
        (error(503, "service_unavailable"), ServiceUnavailableError, "unavailable right now"),
        (httpx.Response(500, text="<html>Internal Server Error</html>"), UnexpectedResponseError, "went wrong"),
    ],
)
def test_failures_become_typed_errors_with_sentences(
    response: httpx.Response, expected: type[Exception], sentence: str
) -> None:
    with pytest.raises(expected) as caught:
        client(lambda _: response).submit("tok", message="hello")
    message = caught.value.user_message  # type: ignore[attr-defined]
    assert sentence in message
    assert "{" not in message and "<html>" not in message


def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimitedError) as caught:
        client(lambda _: error(429, "rate_limited", headers={"Retry-After": "1"})).submit("tok", message="x")
    assert caught.value.retry_after == 1
    assert caught.value.user_message.endswith("in 1 second.")
    assert caught.value.request_id == "req-1"


def test_connection_refused_and_timeout_are_service_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ServiceUnavailableError, match="unavailable right now"):
        client(refuse).status("tok")
    with pytest.raises(ServiceUnavailableError, match="check My cases before sending it again"):
        client(slow).submit("tok", message="x")


def test_an_answer_the_page_cannot_read_is_an_error_not_a_crash() -> None:
    with pytest.raises(UnexpectedResponseError, match="cannot read"):
        client(lambda _: httpx.Response(200, json={"unexpected": True})).submit("tok", message="x")


def test_cases_and_status_accept_the_natural_shapes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/support/cases":
            assert request.url.params["customer_id"] == "CUST-1"
            return httpx.Response(200, json={"items": [{"case_id": "c-1", "status": "answered"}], "total": 1})
        if request.url.path == "/support/cases/c-1":
            return httpx.Response(
                200,
                json={
                    "case_id": "c-1",
                    "status": "answered",
                    "messages": [{"author": "customer", "text": "Hi", "created_at": "2025-01-15T12:00:00Z"}],
                },
            )
        return httpx.Response(
            200,
            json={
                "agents": {"billing": {"interactions": 3, "avg_latency_ms": 40, "p95_latency_ms": 90}},
                "routing_counts": {"billing": 3},
                "degraded_count": 1,
                "rate_limit_rejections": 2,
                "auth_failures": 4,
            },
        )

    api = client(handler)
    assert [c.case_id for c in api.list_cases("tok", customer_id="CUST-1").items] == ["c-1"]
    assert api.get_case("tok", "c-1").messages[0].text == "Hi"
    report = api.status("tok")
    assert report.agents[0].agent == "billing" and report.routes == {"billing": 3}
    assert (report.degraded, report.rate_limit_rejections, report.auth_failures) == (1, 2, 4)


def test_oncall_calls_follow_issue_5() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content))
        if request.url.path == "/support/oncall/queue":
            return httpx.Response(200, json={"items": [{"case_id": "c-9", "status": "escalated", "emergency": True}]})
        return httpx.Response(200, json={"ok": True})

    api = client(handler)
    assert api.oncall_queue("tok")[0].emergency
    assert api.acknowledge("tok", "c-9") is None
    api.reply("tok", "c-9", "On it")
    api.set_status("tok", "c-9", CaseStatus.IN_PROGRESS)
    api.hand_back("tok", "c-9")
    assert seen[1:] == [
        ("POST", "/support/cases/c-9/ack", b""),
        ("POST", "/support/cases/c-9/messages", b'{"text":"On it"}'),
        ("PATCH", "/support/cases/c-9", b'{"status":"in_progress"}'),
        ("POST", "/support/cases/c-9/handback", b""),
    ]
