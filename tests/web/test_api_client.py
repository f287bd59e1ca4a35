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
    ConflictError,
    CrewFailedError,
    EndpointMissingError,
    ForbiddenError,
    InputRejectedError,
    NotFoundError,
    QueueKind,
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
        (error(502, "crew_failed"), CrewFailedError, "Your message was saved in the case."),
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
    with pytest.raises(ServiceUnavailableError, match="check your conversations before sending it again"):
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


def test_the_conversation_fields_are_read_and_tolerated_when_missing() -> None:
    full = {
        "id": "c-1",
        "status": "needs_human",
        "subject": "Charged twice",
        "language": "de",
        "last_message_at": "2025-01-15T12:05:00Z",
        "updated_at": "2025-01-15T12:06:00Z",
        "messages": [
            {"author": "staff", "author_name": "sam", "text": "On it", "created_at": "2025-01-15T12:05:00Z"},
            {
                "author": "agent",
                "text": "See the article.",
                "created_at": "2025-01-15T12:04:00Z",
                "citations": [
                    {"article_id": "KB-5", "title": "Duplicates", "excerpt": "Both", "url": "/kb/articles/KB-5"}
                ],
            },
        ],
    }
    detail = client(lambda _: httpx.Response(200, json=full)).get_case("tok", "c-1")
    assert (detail.subject, detail.language, detail.messages[0].author_name) == ("Charged twice", "de", "sam")
    assert detail.messages[1].citations[0].excerpt == "Both"
    assert detail.last_activity is not None and detail.last_activity.minute == 5
    # An API from before these fields: the thread's newest message stands in for `last_message_at`.
    bare = {
        "id": "c-1",
        "status": "answered",
        "messages": [{"author": "customer", "text": "Hi", "created_at": "2025-01-15T12:07:00Z"}],
    }
    older = client(lambda _: httpx.Response(200, json=bare)).get_case("tok", "c-1")
    assert older.subject is None and older.last_activity is not None and older.last_activity.minute == 7


def test_a_queued_request_has_a_case_but_no_answer_yet() -> None:
    answer = client(lambda _: httpx.Response(202, json={"case_id": "c-2", "status": "queued"})).submit("t", message="x")
    assert (answer.case_id, answer.response, answer.status) == ("c-2", None, "queued")


def test_the_queues_the_paging_state_and_hand_back_with_a_note() -> None:
    seen: list[httpx.Request] = []
    queue = [
        {"case_id": "c-1", "status": "escalated", "emergency": True},
        {"case_id": "c-2", "status": "needs_human"},
        {"case_id": "c-3", "status": "needs_human", "kind": "emergency"},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/support/oncall/queue":
            return httpx.Response(200, json={"items": queue})  # an API that ignores `kind`: both queues
        if request.url.path == "/support/oncall/pages":
            return httpx.Response(200, json={"items": [], "webhook_configured": False, "counts": {"cancelled": 2}})
        return httpx.Response(200, json={"ok": True})

    api = client(handler)
    assert [i.case_id for i in api.oncall_queue("tok", QueueKind.EMERGENCY)] == ["c-1", "c-3"]
    assert [i.case_id for i in api.oncall_queue("tok", QueueKind.NEEDS_HUMAN)] == ["c-2"]
    assert seen[0].url.params["kind"] == "emergency"
    paging = api.paging_status("tok")
    assert paging.webhook_configured is False and paging.counts == {"cancelled": 2}
    api.hand_back("tok", "c-2", "Refunded the duplicate.")
    assert json.loads(seen[-1].content) == {"note": "Refunded the duplicate."}


def test_ids_from_links_stay_one_path_segment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"case_id": "x", "status": "answered"})

    client(handler).get_case("tok", "../admin/accounts")
    assert seen[0].url.raw_path == b"/support/cases/..%2Fadmin%2Faccounts"


def test_articles_accounts_and_the_audit_log() -> None:
    seen: list[tuple[str, str, bytes]] = []
    account = {"id": 3, "username": "bo", "role": "staff", "customer_id": None, "is_active": False}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content))
        path = request.url.path
        if path == "/kb/articles/KB-5":
            return httpx.Response(200, json={"article_id": "KB-5", "title": "Duplicates", "body": "# Hi", "url": path})
        if path == "/kb/articles/KB-404":
            return httpx.Response(404, json={"detail": "No such article.", "code": "article_not_found"})
        if path == "/admin/accounts" and request.method == "GET":
            return httpx.Response(200, json=[account])
        if path == "/admin/audit":
            return httpx.Response(
                200,
                json={
                    "items": [{"seq": 1, "event": "login", "payload": {}}],
                    "limit": 5,
                    "offset": 0,
                    "chain_intact": False,
                    "first_broken_seq": 1,
                    "chain_problem": "Entry 1 was edited.",
                    "entries_verified": 0,
                },
            )
        if path == "/admin/accounts/sam/disable":
            return httpx.Response(
                409, json={"detail": "You cannot disable your own account.", "code": "cannot_disable_self"}
            )
        return httpx.Response(200, json=account)

    api = client(handler)
    assert api.article("tok", "KB-5").body == "# Hi"
    with pytest.raises(NotFoundError, match="help article could not be found"):
        api.article("tok", "KB-404")
    assert [a.username for a in api.accounts("tok")] == ["bo"]
    api.create_account("tok", username="bo", password="long-password", role="staff")
    assert json.loads(seen[-1][2]) == {"username": "bo", "password": "long-password", "role": "staff"}
    assert not api.set_account_active("tok", "bo", False).is_active
    assert seen[-1][:2] == ("POST", "/admin/accounts/bo/disable")
    api.set_account_active("tok", "bo", True)
    assert seen[-1][:2] == ("POST", "/admin/accounts/bo/enable")
    with pytest.raises(ConflictError, match=r"You cannot disable your own account\."):
        api.set_account_active("tok", "sam", False)
    log = api.audit("tok", limit=5, event="login")
    assert (log.chain_intact, log.first_broken_seq, log.items[0].event) == (False, 1, "login")


def test_a_failure_names_the_case_it_still_created() -> None:
    failed = httpx.Response(
        502, json={"detail": "x", "code": "crew_failed", "request_id": "r"}, headers={"X-Case-ID": "c-7"}
    )
    with pytest.raises(CrewFailedError) as caught:
        client(lambda _: failed).submit("tok", message="hello")
    assert caught.value.case_id == "c-7"
    assert "person" not in caught.value.user_message  # whether a person takes over is the case status's to say
