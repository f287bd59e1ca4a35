"""A fake `SupportApi` for the AppTest page tests: an in-memory desk with the API's visibility rules, recorded
calls and injectable failures.

Like the API: a customer sees their own customer ID's cases, an integrator (the web app's guest account) the
cases it filed, staff and admins every case; anything else is a 404. Filing answers at once (the desk's
reply with a citation); a follow-up on a case with people gets no desk reply; staff replies carry the
staff member's username; handing back adds the note to the thread.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from web_interface.api_client import (
    Account,
    AgentStats,
    ApiError,
    Article,
    AuditEntry,
    AuditLog,
    AuthError,
    AuthSession,
    CaseDetail,
    CaseMessage,
    CasePage,
    CaseStatus,
    CaseSummary,
    Citation,
    ConflictError,
    NotFoundError,
    PagingStatus,
    QueueItem,
    QueueKind,
    Role,
    StatusReport,
    SupportAnswer,
    SupportRoute,
)

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
WITH_PEOPLE = {"escalated", "needs_human", "acknowledged", "in_progress"}
REFUND_CITATION = Citation(
    article_id="KB-004",
    title="Refund timelines and tracking",
    excerpt="Refunds reach your card 3-5 working days after we issue them.",
    url="/kb/articles/KB-004",
)
USERNAMES = {
    Role.CUSTOMER: "alice",
    Role.STAFF: "sam",
    Role.ADMIN: "ada",
    Role.INTEGRATOR: "web",
    Role.GUEST: "guest",
}


def auth_session(role: Role = Role.CUSTOMER, customer_id: str | None = "CUST-1") -> AuthSession:
    return AuthSession(
        access_token=f"token-{role.value}",
        username=USERNAMES[role],
        role=role,
        customer_id=customer_id if role is Role.CUSTOMER else None,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )


def message(author: str, text: str, when: datetime = NOW, **extra: Any) -> CaseMessage:
    return CaseMessage(author=author, text=text, created_at=when, **extra)


def case(case_id: str = "case-0001", **overrides: Any) -> CaseDetail:
    values: dict[str, Any] = {
        "case_id": case_id,
        "status": "answered",
        "customer_id": "CUST-1",
        "priority": "medium",
        "category": "billing",
        "route": "billing",
        "subject": "Where is my refund?",
        "created_at": NOW,
        "updated_at": NOW,
        "messages": [
            message("customer", "Where is my refund?"),
            message("agent", "It was issued on 12 January.", citations=[REFUND_CITATION]),
        ],
    }
    values.update(overrides)
    return CaseDetail(**values)


class FakeSupportApi:
    """Implements `web_interface.api_client.SupportApi` in memory."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, ApiError] = {}
        self.clock = itertools.count(1)
        self.sessions: dict[str, tuple[str, AuthSession]] = {
            "alice": ("alice-password", auth_session(Role.CUSTOMER)),
            "sam": ("sam-password", auth_session(Role.STAFF)),
            "ada": ("ada-password", auth_session(Role.ADMIN)),
            "web": ("web-password", auth_session(Role.INTEGRATOR)),
        }
        self.by_token = {auth.access_token: auth for _, auth in self.sessions.values()}
        self.created_by: dict[str, str] = {}
        self.cases: list[CaseDetail] = [
            case("case-0001"),
            case(
                "case-0002",
                status="escalated",
                emergency=True,
                priority="urgent",
                category="security",
                subject="Someone took over my account",
                created_at=NOW + timedelta(seconds=30),
                updated_at=NOW + timedelta(seconds=30),
                messages=[
                    message(
                        "customer", "Someone took over my account and is spending money", NOW + timedelta(seconds=30)
                    ),
                    message("agent", "A person from our team will take over.", NOW + timedelta(seconds=30)),
                ],
            ),
            case(
                "case-0003",
                status="needs_human",
                customer_id="CUST-2",
                priority="high",
                subject="I want to talk to a person",
                messages=[message("customer", "I want to talk to a person")],
            ),
        ]
        self.next_answer: dict[str, Any] = {
            "status": "answered",
            "text": "Your refund was issued on 12 January and reaches your card within 5 working days.",
            "citations": [REFUND_CITATION],
            "priority": "medium",
        }
        # None: derived from the cases (emergencies and needs_human); a list: exactly these items.
        self.queue: list[QueueItem] | None = None
        self.paging = PagingStatus(webhook_configured=False, counts={"cancelled": 1})
        self.articles = {
            "KB-004": Article(
                article_id="KB-004",
                title="Refund timelines and tracking",
                category="billing",
                excerpt="Refunds reach your card 3-5 working days after we issue them.",
                body="Refunds reach your card **3-5 working days** after we issue them.\n\n"
                "1. Open Account > Billing > Payments.\n2. Look for the refund line.\n\n"
                "More: [our status page](https://status.example.com) and [no](javascript:alert(1)).",
                url="/kb/articles/KB-004",
            )
        }
        self.account_list = [
            Account(username="ada", role="admin", created_at=NOW),
            Account(username="alice", role="customer", customer_id="CUST-1", created_at=NOW),
            Account(username="sam", role="staff", created_at=NOW),
        ]
        self.audit_log = AuditLog(
            items=[
                AuditEntry(seq=2, ts=NOW, event="account_created", actor="ada", role="admin", payload={"x": 1}),
                AuditEntry(seq=1, ts=NOW, event="login", actor="ada", role="admin"),
            ],
            chain_intact=True,
            entries_verified=2,
        )
        self.report = StatusReport(
            agents=[
                AgentStats(agent="billing", interactions=12, avg_latency_ms=41.5, p95_latency_ms=80.2, last_active=NOW),
                AgentStats(agent="technical", interactions=7, avg_latency_ms=52.0, p95_latency_ms=95.0),
            ],
            routes={"billing": 12, "technical": 7, "escalation": 2},
            degraded=3,
            rate_limit_rejections=4,
            auth_failures=5,
            cases_by_status={"answered": 4, "needs_human": 1},
        )

    # -- plumbing --

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if name in self.failures:
            raise self.failures[name]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def tick(self) -> datetime:
        return NOW + timedelta(minutes=next(self.clock))

    def _who(self, token: str) -> AuthSession:
        if token not in self.by_token:
            raise AuthError()
        return self.by_token[token]

    def _visible(self, token: str, item: CaseDetail) -> bool:
        who = self._who(token)
        if who.role is Role.CUSTOMER:
            return item.customer_id == who.customer_id
        if who.role is Role.INTEGRATOR:
            return self.created_by.get(item.case_id) == token
        return True

    def _case(self, token: str, case_id: str) -> CaseDetail:
        for item in self.cases:
            if item.case_id == case_id and self._visible(token, item):
                return item
        raise NotFoundError(code="case_not_found")

    def _replace(self, updated: CaseDetail) -> CaseDetail:
        updated = CaseDetail.model_validate(updated.model_dump() | {"last_message_at": None})
        self.cases = [updated if c.case_id == updated.case_id else c for c in self.cases]
        return updated

    def add_message(self, case_id: str, author: str, text: str, **extra: Any) -> CaseDetail:
        """A message appears on a case (what another person or the desk does while a page is open)."""
        item = next(c for c in self.cases if c.case_id == case_id)
        when = self.tick()
        status = extra.pop("status", item.status)
        return self._replace(
            item.model_copy(
                update={
                    "messages": [*item.messages, message(author, text, when, **extra)],
                    "updated_at": when,
                    "status": status,
                }
            )
        )

    # -- SupportApi --

    def sign_in(self, username: str, password: str) -> AuthSession:
        self._record("sign_in", username=username)
        known = self.sessions.get(username)
        if known is None or known[0] != password:
            raise AuthError("The username or password is not correct.")
        return known[1]

    def submit(
        self,
        token: str,
        *,
        message: str,
        route: SupportRoute = SupportRoute.AUTO,
        customer_id: str | None = None,
        emergency: bool = False,
    ) -> SupportAnswer:
        self._record("submit", token=token, message=message, route=route, customer_id=customer_id, emergency=emergency)
        who = self._who(token)
        owner = who.customer_id if who.role is Role.CUSTOMER else customer_id
        case_id = f"case-{len(self.cases) + 1:04d}"
        when = self.tick()
        answer = self.next_answer
        status = "escalated" if emergency else answer["status"]
        self.cases.append(
            CaseDetail(
                case_id=case_id,
                status=status,
                customer_id=owner,
                priority="urgent" if emergency else answer["priority"],
                category="billing",
                route=route.value,
                emergency=emergency,
                subject=message.splitlines()[0][:80],
                created_at=when,
                updated_at=when,
                messages=[
                    CaseMessage(author="customer", text=message, created_at=when),
                    CaseMessage(author="agent", text=answer["text"], created_at=when, citations=answer["citations"]),
                ],
            )
        )
        self.created_by[case_id] = token
        return SupportAnswer(case_id=case_id, response=answer["text"], status=status, citations=answer["citations"])

    def list_cases(
        self, token: str, *, customer_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> CasePage:
        self._record("list_cases", token=token, customer_id=customer_id)
        who = self._who(token)
        if who.role is Role.CUSTOMER and customer_id not in (None, who.customer_id):
            raise NotFoundError()
        items = [
            CaseSummary(**c.model_dump(exclude={"messages"}))
            for c in self.cases
            if self._visible(token, c) and (customer_id is None or c.customer_id == customer_id)
        ]
        return CasePage(items=items)

    def get_case(self, token: str, case_id: str) -> CaseDetail:
        self._record("get_case", token=token, case_id=case_id)
        return self._case(token, case_id)

    def status(self, token: str) -> StatusReport:
        self._record("status", token=token)
        return self.report

    def oncall_queue(self, token: str, kind: QueueKind | None = None) -> list[QueueItem]:
        self._record("oncall_queue", token=token, kind=kind)
        if self.queue is not None:
            items = self.queue
        else:
            items = [
                QueueItem(
                    case_id=c.case_id,
                    status=c.status,
                    kind="emergency" if c.emergency or c.auto_emergency else "needs_human",
                    priority=c.priority,
                    emergency=c.emergency,
                    auto_emergency=c.auto_emergency,
                    customer_id=c.customer_id,
                    subject=c.subject,
                    age_seconds=120,
                    time_to_breach_seconds=180,
                )
                for c in self.cases
                if c.status in WITH_PEOPLE
            ]
        return [item for item in items if kind is None or item.queue is kind]

    def paging_status(self, token: str) -> PagingStatus:
        self._record("paging_status", token=token)
        return self.paging

    def acknowledge(self, token: str, case_id: str) -> CaseDetail | None:
        self._record("acknowledge", case_id=case_id)
        item = self._case(token, case_id)
        if item.status == "resolved":
            raise ConflictError("The case is resolved; there is nothing to acknowledge.")
        return self._replace(item.model_copy(update={"status": "acknowledged"}))

    def reply(self, token: str, case_id: str, text: str) -> CaseDetail | None:
        self._record("reply", case_id=case_id, text=text)
        who = self._who(token)
        item = self._case(token, case_id)
        if who.is_staff:
            return self.add_message(case_id, "staff", text, author_name=who.username)
        self.add_message(case_id, "customer", text)
        if item.status in WITH_PEOPLE:
            return self._case(token, case_id)
        if "person" in text.lower():
            return self.add_message(
                case_id, "agent", "A person from our team will take over within 4 hours.", status="needs_human"
            )
        return self.add_message(case_id, "agent", "Thanks, that helps: here is the next step.", status="answered")

    def set_status(self, token: str, case_id: str, status: CaseStatus) -> CaseDetail | None:
        self._record("set_status", case_id=case_id, status=status)
        return self._replace(self._case(token, case_id).model_copy(update={"status": status.value}))

    def hand_back(self, token: str, case_id: str, note: str | None = None) -> CaseDetail | None:
        self._record("hand_back", case_id=case_id, note=note)
        who = self._who(token)
        item = self._case(token, case_id)
        if item.status not in WITH_PEOPLE:
            raise ConflictError("Only a case that is with people can be handed back.")
        if note:
            return self.add_message(case_id, "staff", note, author_name=who.username, status="answered")
        return self._replace(item.model_copy(update={"status": "answered"}))

    def article(self, token: str, article_id: str) -> Article:
        self._record("article", token=token, article_id=article_id)
        self._who(token)
        if article_id not in self.articles:
            raise NotFoundError("That help article could not be found.")
        return self.articles[article_id]

    def accounts(self, token: str) -> list[Account]:
        self._record("accounts", token=token)
        return list(self.account_list)

    def create_account(
        self, token: str, *, username: str, password: str, role: str, customer_id: str | None = None
    ) -> Account:
        self._record("create_account", username=username, role=role, customer_id=customer_id)
        if any(a.username == username for a in self.account_list):
            raise ConflictError("An account with this username already exists.")
        account = Account(username=username, role=role, customer_id=customer_id, created_at=NOW)
        self.account_list.append(account)
        return account

    def set_account_active(self, token: str, username: str, active: bool) -> Account:
        self._record("set_account_active", username=username, active=active)
        if username == self._who(token).username:
            raise ConflictError("You cannot disable your own account.")
        for i, account in enumerate(self.account_list):
            if account.username == username:
                self.account_list[i] = account.model_copy(
                    update={"is_active": active, "disabled_at": None if active else NOW}
                )
                return self.account_list[i]
        raise NotFoundError("No account with this username.")

    def audit(self, token: str, *, limit: int = 100, event: str | None = None) -> AuditLog:
        self._record("audit", limit=limit, event=event)
        items = [e for e in self.audit_log.items if event is None or e.event == event][:limit]
        return self.audit_log.model_copy(update={"items": items})
