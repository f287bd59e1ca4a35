"""Request and response bodies of the API (kept apart from the database models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.sla_schemas import CaseNoteOut, CustomerProfileOut, MetricsOut, SlaOut
from api.validation import NoNulStr
from crew.models import Category, Priority, Route
from desk.status import DeskStatus
from security.sanitize import CUSTOMER_ID_PATTERN

# What the sanitiser leaves must not be empty, so a message needs one character that it keeps: not white space,
# a control, private use or an invisible format character (security/sanitize.py). Only in the document (the
# server's own check names the problem better). The pattern cannot say everything (lone surrogates, private
# use beyond the BMP, markup-only text such as `<b></b>`): those are 422s too, as the description says.
VISIBLE_TEXT = r"[^\s\x00-\x1f\x7f-\x9f\ue000-\uf8ff\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
TEXT_RULE = (
    "Plain text: markup, control and invisible characters are removed, and what is left must not be empty "
    "(422) nor longer than MAX_MESSAGE_LENGTH characters (422)."
)
CustomerId = Field(default=None, pattern=CUSTOMER_ID_PATTERN, description="The customer this request acts for")
# The role comes from the token, so the schema cannot make the field required for one role only: it says so.
FilingCustomerId = Field(
    default=None,
    pattern=CUSTOMER_ID_PATTERN,
    description=(
        "The customer this request acts for. **Required for integrator accounts** (without it: 422 with "
        "`errors[0].field == 'customer_id'`). Customer accounts may omit it (it is their own id); if they send "
        "it, it must be their own (else 403 `other_customer`)."
    ),
)
ClassifyCustomerId = Field(
    default=None,
    pattern=CUSTOMER_ID_PATTERN,
    description=(
        "The customer this classification is for. Customers may omit it (their own id) and may not name "
        "another (403); integrators may omit it, and are then limited per account rather than per customer."
    ),
)


class FieldErrorOut(BaseModel):
    field: str = Field(description="The field, e.g. `customer_id` or `context.plan` (no `body.`/`query.` prefix)")
    message: str


class ErrorOut(BaseModel):
    """Every error the desk sends (4xx and 5xx) has this body."""

    detail: str = Field(description="A fixed human-readable message (never the rejected input)")
    code: str = Field(description="A machine code, e.g. `validation_error`, `not_authenticated`, `rate_limited`")
    request_id: str = Field(description="Also in the X-Request-ID header; quote it when reporting a problem")
    errors: list[FieldErrorOut] = Field(
        default_factory=list, description="422 only: one entry per invalid field; absent otherwise"
    )


class NotReadyOut(ErrorOut):
    status: str
    checks: dict[str, str]


class SupportRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, description=f"The customer's message. {TEXT_RULE}", json_schema_extra={"pattern": VISIBLE_TEXT}
    )
    customer_id: str | None = FilingCustomerId
    context: dict[str, Any] | None = Field(default=None, description="Small JSON object handed to the crew")
    # Strict: JSON `true`/`false` only (0, 1, "yes" are refused rather than guessed at).
    emergency: StrictBool = Field(default=False, description="Escalate now: escalation route, priority urgent")


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, description=TEXT_RULE, json_schema_extra={"pattern": VISIBLE_TEXT})
    customer_id: str | None = ClassifyCustomerId


class CitationOut(BaseModel):
    article_id: str
    title: str
    excerpt: str | None = Field(default=None, description="The article's opening, for display beside the answer")
    url: str | None = Field(default=None, description="The article: GET this path (/kb/articles/{article_id})")


class ArticleOut(BaseModel):
    article_id: str
    title: str
    category: str
    excerpt: str
    body: str = Field(description="Markdown written by the desk's team (not customer text)")
    url: str


class SupportResponse(BaseModel):
    response: str
    agent_type: Route
    timestamp: datetime
    case_id: str
    category: Category
    priority: Priority
    confidence: float
    citations: list[CitationOut]
    status: str
    degraded: bool


class ClassifyOut(BaseModel):
    category: Category
    priority: Priority
    confidence: float
    is_complex: bool
    route: Route
    signals: list[str]
    secondary_categories: list[Category]


class MessageOut(BaseModel):
    author: str
    author_name: str | None = Field(default=None, description="The staff member's username on a staff reply")
    text: str
    citations: list[CitationOut]
    created_at: datetime


class CaseSummary(BaseModel):
    id: str
    customer_id: str
    status: str
    requested_route: str
    agent_type: str | None
    category: str | None
    priority: str | None
    confidence: float | None
    emergency: bool
    auto_emergency: bool
    sanitised: bool
    degraded: bool
    error_code: str | None
    subject: str | None = Field(default=None, description="The first line of the first message")
    language: str | None = Field(default=None, description="ISO 639-1 code of the first message, if detected")
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None


class CaseOut(CaseSummary):
    messages: list[MessageOut]
    # For staff and admins only (null for customers and integrators): README "SLA and customer context".
    customer: CustomerProfileOut | None = Field(default=None, description="Staff only: the customer beside the thread")
    sla: SlaOut | None = Field(default=None, description="Staff only: the case's SLA clocks")
    notes: list[CaseNoteOut] | None = Field(
        default=None, description="Staff only: desk notes (status changes, SLA events) the customer does not see"
    )


class CaseList(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class StatusOut(DeskStatus):
    model_config = ConfigDict(frozen=False)

    metrics: MetricsOut | None = Field(  # type: ignore[assignment]
        default=None, description="Support metrics over the last `days` days (desk/metrics.py)"
    )
    # Where crews run and how far behind they are: mode (embedded or celery), broker, workers answering a
    # ping, broker queue depth per queue, and queued/running jobs by the jobs table (desk/jobs/service.py).
    jobs: dict[str, Any] | None = None


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    checks: dict[str, str]
    jobs: dict[str, Any] | None = None


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    password: NoNulStr = Field(min_length=8, max_length=1024)  # as the login form: no NUL
    role: str = Field(pattern=r"^(customer|integrator|staff|admin)$")
    customer_id: str | None = CustomerId


class AccountOut(BaseModel):
    id: int
    username: str
    role: str
    customer_id: str | None
    is_active: bool
    created_at: datetime
    disabled_at: datetime | None = None


class AuditEventOut(BaseModel):
    chain: str = ""  # which machine's audit file the event was written to (AUDIT_CHAIN; "" on one machine)
    seq: int
    ts: datetime
    event: str
    actor: str | None
    role: str | None
    customer_id: str | None
    case_id: str | None
    status_code: int | None
    request_id: str | None
    payload: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    limit: int
    offset: int
    chain_intact: bool = Field(
        description="The database copy served here verifies: every row's hash recomputed and linked to the row "
        "before, no row missing, and it ends where the audit file ends, with the same hash"
    )
    first_broken_seq: int | None = Field(description="The first entry edited, missing or out of place; null if intact")
    chain_problem: str | None = Field(description="What is wrong, in one sentence; null if intact")
    entries_verified: int = Field(description="Entries checked before the first problem (all when intact)")
