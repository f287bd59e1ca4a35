"""The web interface's only way to reach the desk: a typed HTTP client for the support API.

Every page goes through `SupportApiClient` (or, in tests, a fake with the same `SupportApi` protocol). The
client holds no credentials: each call takes the bearer token of the Streamlit session that makes it, so
one client (one connection pool) can be shared by every browser session through `st.cache_resource`.

Failures are turned into one exception hierarchy with a plain sentence for people (`user_message`), so no
page ever shows a status code, a JSON body or a traceback:

    ApiError                       base: `code`, `status_code`, `request_id`, `user_message`
    ├── AuthError                  401  wrong credentials, or an expired / rejected token
    ├── ForbiddenError             403  signed in, but this role may not do that
    ├── NotFoundError              404  no such case for this caller
    │   └── EndpointMissingError   404/405 from a route this API version does not have (yet)
    ├── ConflictError              409  the case (or account) is in a state that forbids the action
    ├── InputRejectedError         413/422  `field` and `reason` say what to fix
    ├── RateLimitedError           429  `retry_after` seconds
    ├── CrewFailedError            502  the agents failed; the case was saved
    ├── ServiceUnavailableError    503, connection refused, timeout
    └── UnexpectedResponseError    anything else the API should never send
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from web_interface.settings import WebSettings

M = TypeVar("M", bound=BaseModel)

# --- errors ----------------------------------------------------------------------------------------------

FIELD_LABELS = {
    "message": "description",
    "customer_id": "customer ID",
    "context": "additional context",
    "username": "username",
    "password": "password",
    "status": "status",
    "body": "request",
}


class ApiError(Exception):
    """A failure talking to the API, with a sentence that can be shown to a person as it is."""

    default_message = "Something went wrong while talking to the support service. Please try again."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        code: str = "error",
        status_code: int | None = None,
        request_id: str | None = None,
        case_id: str | None = None,
    ) -> None:
        self.user_message = user_message or self.default_message
        self.code = code
        self.status_code = status_code
        self.request_id = request_id
        # The case the failed request still created or touched (the API's X-Case-ID header), if any.
        self.case_id = case_id
        super().__init__(self.user_message)


class AuthError(ApiError):
    default_message = "Your sign-in is no longer valid. Please sign in again."


class ForbiddenError(ApiError):
    default_message = "Your account is not allowed to do this."


class NotFoundError(ApiError):
    default_message = "That case could not be found."


class EndpointMissingError(NotFoundError):
    default_message = "This part of the desk is not available on the connected API yet."


class ConflictError(ApiError):
    default_message = "The case is not in a state that allows this. Reload it and try again."


# What to tell a person for fields whose validator message is written for programmers (a regex pattern).
FIELD_HINTS = {
    "customer_id": "use 1 to 64 letters, digits or the characters - _ . : without spaces",
}


class InputRejectedError(ApiError):
    def __init__(self, field: str | None, reason: str | None, **kwargs: Any) -> None:
        self.field = field
        self.reason = FIELD_HINTS.get(field or "", reason)
        reason = self.reason
        label = FIELD_LABELS.get(field or "", field or "request")
        sentence = f"The {label} was not accepted"
        sentence += f": {reason.rstrip('.')}." if reason else "."
        super().__init__(sentence, **kwargs)


class RateLimitedError(ApiError):
    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        self.retry_after = max(1, retry_after)
        unit = "second" if self.retry_after == 1 else "seconds"
        super().__init__(
            f"You have sent too many requests in a short time. Please try again in {self.retry_after} {unit}.",
            **kwargs,
        )


class CrewFailedError(ApiError):
    # No promise of a person here: whether one takes over is the desk's decision, shown by the case's status.
    default_message = "Our support agents could not answer this right now. Your message was saved in the case."


class ServiceUnavailableError(ApiError):
    default_message = "The support service is unavailable right now. Please try again in a minute."


class UnexpectedResponseError(ApiError):
    pass


# --- typed results ---------------------------------------------------------------------------------------


class _ApiModel(BaseModel):
    # The API may add fields; the interface must keep working when it does.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Role(StrEnum):
    GUEST = "guest"
    CUSTOMER = "customer"
    INTEGRATOR = "integrator"
    STAFF = "staff"
    ADMIN = "admin"


class AuthSession(_ApiModel):
    """A signed-in identity. Lives only in `st.session_state`, never in the URL or on disk."""

    access_token: str
    username: str
    role: Role
    customer_id: str | None = None
    expires_at: datetime

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at


class Citation(_ApiModel):
    title: str
    article_id: str | None = None
    # The API's own path of the article (`/kb/articles/{id}`): not a browser link, the web app has an article page.
    url: str | None = None
    excerpt: str | None = Field(default=None, validation_alias=AliasChoices("excerpt", "snippet", "summary"))


class SupportAnswer(_ApiModel):
    """What filing a request returns. Only `case_id` is certain: with the crew queued (a `queued` case) there
    is no response yet, and the case view shows the answer when it arrives."""

    case_id: str
    response: str | None = None
    agent_type: str | None = None
    timestamp: datetime | None = None
    category: str | None = None
    priority: str | None = None
    confidence: float | None = None
    citations: list[Citation] = Field(default_factory=list)
    status: str | None = None
    degraded: bool = False
    emergency: bool = False


class CaseMessage(_ApiModel):
    author: str = Field(validation_alias=AliasChoices("author", "role", "sender", "author_role"))
    text: str = Field(validation_alias=AliasChoices("text", "body", "content", "message"))
    created_at: datetime | None = Field(default=None, validation_alias=AliasChoices("created_at", "timestamp"))
    author_name: str | None = None  # the staff member's username on a staff reply
    citations: list[Citation] = Field(default_factory=list)


class CaseSummary(_ApiModel):
    case_id: str = Field(validation_alias=AliasChoices("case_id", "id"))
    status: str
    customer_id: str | None = None
    priority: str | None = None
    category: str | None = None
    route: str | None = Field(default=None, validation_alias=AliasChoices("agent_type", "route", "requested_route"))
    emergency: bool = False
    auto_emergency: bool = False
    degraded: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_message_at: datetime | None = None
    subject: str | None = Field(default=None, validation_alias=AliasChoices("subject", "summary", "title"))
    language: str | None = None

    @property
    def last_activity(self) -> datetime | None:
        """When the thread last changed: the newest message, else the last update (an API without
        `last_message_at`), else the opening."""
        return self.last_message_at or self.updated_at or self.created_at


class SlaClock(_ApiModel):
    """The SLA clock a queue item is sorted by: which one, and how long until it breaches."""

    clock: str
    state: str
    remaining_seconds: float
    due_at: datetime | None = None
    near_breach: bool = False
    breached: bool = False


class CustomerProfile(_ApiModel):
    """The customer beside a case, for staff (absent for customers and from an API without customer records)."""

    id: str
    known: bool = False
    name: str | None = None
    tier: str | None = None
    plan: str | None = None
    open_cases: int = 0


class CaseSla(_ApiModel):
    tier: str | None = None
    waiting_on_customer: bool = False
    clocks: list[SlaClock] = Field(default_factory=list)


class CaseDetail(CaseSummary):
    messages: list[CaseMessage] = Field(default_factory=list, validation_alias=AliasChoices("messages", "thread"))
    customer: CustomerProfile | None = None  # staff only
    sla: CaseSla | None = None  # staff only

    def model_post_init(self, context: Any, /) -> None:
        # `last_message_at` from the thread itself when the API does not send it.
        if self.last_message_at is None:
            stamps = [m.created_at for m in self.messages if m.created_at is not None]
            if stamps:
                self.last_message_at = max(stamps)


class CasePage(_ApiModel):
    items: list[CaseSummary] = Field(default_factory=list)
    total: int | None = None
    limit: int | None = None
    offset: int = 0


class AgentStats(_ApiModel):
    agent: str = Field(validation_alias=AliasChoices("agent", "agent_type", "name", "route"))
    interactions: int = 0
    avg_latency_ms: float | None = Field(
        default=None, validation_alias=AliasChoices("avg_latency_ms", "average_latency_ms", "avg_ms")
    )
    p95_latency_ms: float | None = Field(default=None, validation_alias=AliasChoices("p95_latency_ms", "p95_ms"))
    last_active: datetime | None = Field(
        default=None, validation_alias=AliasChoices("last_active", "last_active_at", "last_seen")
    )


class RoutePoint(_ApiModel):
    """One bucket of the requests-per-route time series, when the API provides one."""

    time: datetime = Field(validation_alias=AliasChoices("time", "bucket", "minute", "start"))
    route: str
    count: int


class StatusReport(_ApiModel):
    agents: list[AgentStats] = Field(default_factory=list)
    routes: dict[str, int] = Field(
        default_factory=dict, validation_alias=AliasChoices("routes", "routing_counts", "requests_per_route")
    )
    route_timeline: list[RoutePoint] = Field(
        default_factory=list, validation_alias=AliasChoices("route_timeline", "requests_over_time", "timeline")
    )
    degraded: int = Field(default=0, validation_alias=AliasChoices("degraded", "degraded_count", "degraded_answers"))
    rate_limit_rejections: int = Field(
        default=0, validation_alias=AliasChoices("rate_limit_rejections_last_hour", "rate_limit_rejections")
    )
    auth_failures: int = Field(default=0, validation_alias=AliasChoices("auth_failures_last_hour", "auth_failures"))
    cases_by_status: dict[str, int] = Field(default_factory=dict)
    window_seconds: int | None = None
    generated_at: datetime | None = None


class QueueKind(StrEnum):
    """The two staff queues: emergencies (on-call) and cases a person must take over."""

    EMERGENCY = "emergency"
    NEEDS_HUMAN = "needs_human"


class QueueItem(_ApiModel):
    case_id: str = Field(validation_alias=AliasChoices("case_id", "id"))
    status: str
    kind: str | None = None  # `emergency` / `needs_human`; absent from an API older than the needs-human queue
    priority: str | None = None
    emergency: bool = False
    auto_emergency: bool = False
    category: str | None = None
    customer_id: str | None = None
    age_seconds: float | None = None
    time_to_breach_seconds: float | None = None
    breached: bool = False
    acknowledged_by: str | None = None
    summary: str | None = None
    subject: str | None = None
    created_at: datetime | None = None
    tier: str | None = None
    sla: SlaClock | None = None  # the clock nearest its deadline; absent from an API without SLA clocks

    @property
    def queue(self) -> QueueKind:
        """Which queue the item belongs to, from `kind`, or from the case itself when the API has no `kind`."""
        if self.kind in (QueueKind.EMERGENCY.value, QueueKind.NEEDS_HUMAN.value):
            return QueueKind(self.kind)
        if self.status == "needs_human" and not (self.emergency or self.auto_emergency):
            return QueueKind.NEEDS_HUMAN
        return QueueKind.EMERGENCY


class PagingStatus(_ApiModel):
    """Whether on-call pages can leave the desk: `webhook_configured` false means they wait in the queue."""

    webhook_configured: bool | None = None
    secondary_webhook_configured: bool | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class Article(_ApiModel):
    article_id: str = Field(validation_alias=AliasChoices("article_id", "id"))
    title: str
    body: str = ""  # Markdown the desk's team wrote (not customer text)
    excerpt: str | None = None
    category: str | None = None
    url: str | None = None


class Account(_ApiModel):
    username: str
    role: str
    customer_id: str | None = None
    is_active: bool = True
    created_at: datetime | None = None
    disabled_at: datetime | None = None


class AuditEntry(_ApiModel):
    seq: int
    ts: datetime | None = None
    event: str
    actor: str | None = None
    role: str | None = None
    customer_id: str | None = None
    case_id: str | None = None
    status_code: int | None = None
    request_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class AuditLog(_ApiModel):
    items: list[AuditEntry] = Field(default_factory=list)
    # None: this API does not verify the chain on this endpoint (older than `chain_intact`).
    chain_intact: bool | None = None
    first_broken_seq: int | None = None
    chain_problem: str | None = None
    entries_verified: int | None = None


class SupportRoute(StrEnum):
    """Request types offered by the form, mapped to the API's endpoints."""

    AUTO = "auto"
    BILLING = "billing"
    TECHNICAL = "technical"
    ESCALATION = "escalation"
    COMPLEX = "complex"

    @property
    def path(self) -> str:
        return "/support/request" if self is SupportRoute.AUTO else f"/support/{self.value}"


class CaseStatus(StrEnum):
    """The statuses staff can set from the web interface."""

    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class SupportApi(Protocol):
    """What the pages need from the API. `SupportApiClient` is the real one; tests pass fakes."""

    def sign_in(self, username: str, password: str) -> AuthSession: ...

    def submit(
        self,
        token: str,
        *,
        message: str,
        route: SupportRoute = SupportRoute.AUTO,
        customer_id: str | None = None,
        emergency: bool = False,
    ) -> SupportAnswer: ...

    def list_cases(
        self, token: str, *, customer_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> CasePage: ...

    def get_case(self, token: str, case_id: str) -> CaseDetail: ...

    def status(self, token: str) -> StatusReport: ...

    def oncall_queue(self, token: str, kind: QueueKind | None = None) -> list[QueueItem]: ...

    def paging_status(self, token: str) -> PagingStatus: ...

    def acknowledge(self, token: str, case_id: str) -> CaseDetail | None: ...

    def reply(self, token: str, case_id: str, text: str) -> CaseDetail | None: ...

    def set_status(self, token: str, case_id: str, status: CaseStatus) -> CaseDetail | None: ...

    def hand_back(self, token: str, case_id: str, note: str | None = None) -> CaseDetail | None: ...

    def article(self, token: str, article_id: str) -> Article: ...

    def accounts(self, token: str) -> list[Account]: ...

    def create_account(
        self, token: str, *, username: str, password: str, role: str, customer_id: str | None = None
    ) -> Account: ...

    def set_account_active(self, token: str, username: str, active: bool) -> Account: ...

    def audit(self, token: str, *, limit: int = 100, event: str | None = None) -> AuditLog: ...


# --- the client ------------------------------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    """The JWT's payload, read without verifying it.

    Only used to label the interface (role, customer ID, expiry); the API verifies every token it gets,
    so a forged payload here buys nothing but a page whose calls are refused.
    """
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError, binascii.Error) as exc:
        raise UnexpectedResponseError("The sign-in service returned an unreadable token.") from exc
    if not isinstance(claims, dict):
        raise UnexpectedResponseError("The sign-in service returned an unreadable token.")
    return claims


def _seg(value: str) -> str:
    """`value` as one URL path segment: a case ID or username from a link can never reach another route."""
    return quote(value, safe="")


def _retry_after(response: httpx.Response, body: dict[str, Any]) -> int:
    for raw in (response.headers.get("Retry-After"), body.get("retry_after")):
        try:
            return int(float(str(raw)))
        except (TypeError, ValueError):
            continue
    return 60


def _field_and_reason(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The rejected field and why, from our error shape or FastAPI's default validation body."""
    detail = body.get("detail")
    field = body.get("field")
    reason = detail if isinstance(detail, str) else None
    errors = body.get("errors") if isinstance(body.get("errors"), list) else detail
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        loc = first.get("loc")
        field = field or first.get("field") or (str(loc[-1]) if isinstance(loc, list) and loc else None)
        msg = first.get("msg") or first.get("message")
        reason = str(msg) if isinstance(msg, str) else reason
    return (str(field) if field else None), reason


def error_from_response(response: httpx.Response, *, optional_route: bool = False) -> ApiError:
    """Map a failed response to the typed error a page can show. Never copies raw bodies into messages.

    `optional_route`: the call goes to an endpoint a given API version may lack (the on-call ones), so a
    404 means "no such endpoint". The API answers an unknown route and an unknown case with the same body.
    """
    try:
        parsed = response.json()
    except ValueError:
        parsed = {}
    body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    code = str(body.get("code") or "error")
    kwargs: dict[str, Any] = {
        "code": code,
        "status_code": response.status_code,
        "request_id": body.get("request_id"),
        "case_id": response.headers.get("X-Case-ID"),
    }
    status = response.status_code
    if status == 401:
        return AuthError(**kwargs)
    if status == 403:
        return ForbiddenError(**kwargs)
    if status == 405 or (status == 404 and (optional_route or not body.get("code"))):
        # A route this API does not have (or a bare FastAPI 404 without our error shape).
        return EndpointMissingError(**kwargs)
    if status == 404:
        return NotFoundError(**kwargs)
    if status == 409:
        # The API's 409 `detail` is a fixed sentence of its own ("You cannot disable your own account."),
        # never an echo of the request, so it can be shown as it is.
        detail = body.get("detail")
        return ConflictError(detail if isinstance(detail, str) and 0 < len(detail) <= 200 else None, **kwargs)
    if status in (413, 422):
        field, reason = _field_and_reason(body)
        if status == 413:
            field, reason = field or "message", "it is longer than this service accepts"
        return InputRejectedError(field, reason, **kwargs)
    if status == 429:
        return RateLimitedError(_retry_after(response, body), **kwargs)
    if status == 502:
        return CrewFailedError(**kwargs)
    if status in (503, 504):
        return ServiceUnavailableError(**kwargs)
    return UnexpectedResponseError(**kwargs)


class SupportApiClient:
    """`SupportApi` over HTTP with httpx. Thread-safe: it keeps no per-user state."""

    def __init__(self, base_url: str, timeout_seconds: float, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "support-desk-web"},
        )

    @classmethod
    def from_settings(cls, settings: WebSettings) -> SupportApiClient:
        return cls(settings.api_base_url, settings.api_timeout_seconds)

    def close(self) -> None:
        self._http.close()

    # -- plumbing --

    def _send(
        self, method: str, path: str, token: str | None = None, *, optional_route: bool = False, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailableError(
                "The support service took too long to answer. Your request may still be processed; "
                "check your conversations before sending it again."
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailableError() from exc
        if response.is_error:
            raise error_from_response(response, optional_route=optional_route)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UnexpectedResponseError() from exc

    def _parse(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedResponseError("The support service sent an answer this page cannot read.") from exc

    def _maybe_case(self, data: Any) -> CaseDetail | None:
        # Action endpoints may answer with the updated case or with a small acknowledgement body.
        if isinstance(data, dict) and ("messages" in data or "thread" in data):
            return self._parse(CaseDetail, data)
        return None

    # -- SupportApi --

    def sign_in(self, username: str, password: str) -> AuthSession:
        try:
            data = self._send("POST", "/auth/token", data={"username": username, "password": password})
        except AuthError as exc:
            raise AuthError("The username or password is not correct.", code=exc.code) from exc
        token = str(data.get("access_token", "")) if isinstance(data, dict) else ""
        if not token:
            raise UnexpectedResponseError("The sign-in service returned no token.")
        claims = _claims(token)
        expires_in = data.get("expires_in")
        if isinstance(claims.get("exp"), int | float):
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        else:
            expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in or 900))
        try:
            role = Role(str(claims.get("role", "")))
        except ValueError as exc:
            raise UnexpectedResponseError("This account has a role the web interface does not know.") from exc
        return AuthSession(
            access_token=token,
            username=str(claims.get("sub") or username),
            role=role,
            customer_id=claims.get("customer_id"),
            expires_at=expires_at,
        )

    def submit(
        self,
        token: str,
        *,
        message: str,
        route: SupportRoute = SupportRoute.AUTO,
        customer_id: str | None = None,
        emergency: bool = False,
    ) -> SupportAnswer:
        body: dict[str, Any] = {"message": message, "emergency": emergency}
        if customer_id:
            body["customer_id"] = customer_id
        return self._parse(SupportAnswer, self._send("POST", route.path, token, json=body))

    def list_cases(
        self, token: str, *, customer_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> CasePage:
        params: dict[str, Any] = {"limit": limit}
        if customer_id:
            params["customer_id"] = customer_id
        if status:
            params["status"] = status
        data = self._send("GET", "/support/cases", token, params=params)
        if isinstance(data, list):
            data = {"items": data}
        elif isinstance(data, dict) and "items" not in data and "cases" in data:
            data = {**data, "items": data["cases"]}
        return self._parse(CasePage, data)

    def get_case(self, token: str, case_id: str) -> CaseDetail:
        return self._parse(CaseDetail, self._send("GET", f"/support/cases/{_seg(case_id)}", token))

    def status(self, token: str) -> StatusReport:
        data = self._send("GET", "/support/status", token)
        if isinstance(data, dict) and isinstance(data.get("agents"), dict):
            # `{"billing": {...}, ...}` is as natural as a list; accept both.
            data = {**data, "agents": [{"agent": name, **stats} for name, stats in data["agents"].items()]}
        return self._parse(StatusReport, data)

    def oncall_queue(self, token: str, kind: QueueKind | None = None) -> list[QueueItem]:
        # An API without the `kind` filter ignores the parameter and sends both queues; `QueueItem.queue`
        # sorts them out, so the page filters again.
        params = {"kind": kind.value} if kind else {}
        data = self._send("GET", "/support/oncall/queue", token, optional_route=True, params=params)
        items = data.get("items", data.get("cases", [])) if isinstance(data, dict) else data
        queue = [self._parse(QueueItem, item) for item in items or []]
        return [item for item in queue if kind is None or item.queue is kind]

    def paging_status(self, token: str) -> PagingStatus:
        return self._parse(
            PagingStatus, self._send("GET", "/support/oncall/pages", token, optional_route=True, params={"limit": 1})
        )

    def acknowledge(self, token: str, case_id: str) -> CaseDetail | None:
        return self._maybe_case(self._send("POST", f"/support/cases/{_seg(case_id)}/ack", token, optional_route=True))

    def reply(self, token: str, case_id: str, text: str) -> CaseDetail | None:
        """A message on the case thread: a staff reply, or the customer's follow-up (the API tells by the role)."""
        path = f"/support/cases/{_seg(case_id)}/messages"
        return self._maybe_case(self._send("POST", path, token, optional_route=True, json={"text": text}))

    def set_status(self, token: str, case_id: str, status: CaseStatus) -> CaseDetail | None:
        path = f"/support/cases/{_seg(case_id)}"
        return self._maybe_case(self._send("PATCH", path, token, optional_route=True, json={"status": status.value}))

    def hand_back(self, token: str, case_id: str, note: str | None = None) -> CaseDetail | None:
        path = f"/support/cases/{_seg(case_id)}/handback"
        body = {"json": {"note": note}} if note else {}
        return self._maybe_case(self._send("POST", path, token, optional_route=True, **body))

    def article(self, token: str, article_id: str) -> Article:
        try:
            data = self._send("GET", f"/kb/articles/{_seg(article_id)}", token, optional_route=True)
        except EndpointMissingError as exc:
            # The API answers an unknown article and a missing route alike; either way there is nothing to show.
            raise NotFoundError("That help article could not be found.", code=exc.code) from exc
        return self._parse(Article, data)

    def accounts(self, token: str) -> list[Account]:
        data = self._send("GET", "/admin/accounts", token, optional_route=True)
        items = data.get("items", []) if isinstance(data, dict) else data
        return [self._parse(Account, item) for item in items or []]

    def create_account(
        self, token: str, *, username: str, password: str, role: str, customer_id: str | None = None
    ) -> Account:
        body: dict[str, Any] = {"username": username, "password": password, "role": role}
        if customer_id:
            body["customer_id"] = customer_id
        return self._parse(Account, self._send("POST", "/admin/accounts", token, optional_route=True, json=body))

    def set_account_active(self, token: str, username: str, active: bool) -> Account:
        path = f"/admin/accounts/{_seg(username)}/{'enable' if active else 'disable'}"
        return self._parse(Account, self._send("POST", path, token, optional_route=True))

    def audit(self, token: str, *, limit: int = 100, event: str | None = None) -> AuditLog:
        params: dict[str, Any] = {"limit": limit}
        if event:
            params["event"] = event
        data = self._send("GET", "/admin/audit", token, optional_route=True, params=params)
        if isinstance(data, list):
            data = {"items": data}
        return self._parse(AuditLog, data)
