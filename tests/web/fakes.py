"""A fake `SupportApi` for the AppTest page tests: canned answers, recorded calls, injectable failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from web_interface.api_client import (
    AgentStats,
    ApiError,
    AuthError,
    AuthSession,
    CaseDetail,
    CaseMessage,
    CasePage,
    CaseStatus,
    CaseSummary,
    Citation,
    QueueItem,
    Role,
    StatusReport,
    SupportAnswer,
    SupportRoute,
)

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def auth_session(role: Role = Role.CUSTOMER, customer_id: str | None = "CUST-1") -> AuthSession:
    return AuthSession(
        access_token=f"token-{role.value}",
        username=f"{role.value}-user",
        role=role,
        customer_id=customer_id if role is Role.CUSTOMER else None,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )


def answer(**overrides: Any) -> SupportAnswer:
    values: dict[str, Any] = {
        "response": "Your refund was issued on 12 January and reaches your card within 5 working days.",
        "agent_type": "billing",
        "timestamp": NOW,
        "case_id": "case-0001",
        "category": "billing",
        "priority": "medium",
        "confidence": 0.91,
        "citations": [Citation(article_id="KB-12", title="Refund timelines", excerpt="Refunds take 3-5 days.")],
        "status": "answered",
        "degraded": False,
    }
    values.update(overrides)
    return SupportAnswer(**values)


def case(case_id: str = "case-0001", **overrides: Any) -> CaseDetail:
    values: dict[str, Any] = {
        "case_id": case_id,
        "status": "answered",
        "customer_id": "CUST-1",
        "priority": "medium",
        "category": "billing",
        "route": "billing",
        "created_at": NOW,
        "messages": [
            CaseMessage(author="customer", text="Where is my refund?", created_at=NOW),
            CaseMessage(author="agent", text="It was issued on 12 January.", created_at=NOW),
        ],
    }
    values.update(overrides)
    return CaseDetail(**values)


class FakeSupportApi:
    """Implements `web_interface.api_client.SupportApi` in memory."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, ApiError] = {}
        self.accounts: dict[str, tuple[str, AuthSession]] = {
            "alice": ("alice-password", auth_session(Role.CUSTOMER)),
            "sam": ("sam-password", auth_session(Role.STAFF)),
            "web": ("web-password", auth_session(Role.INTEGRATOR)),
        }
        self.next_answer = answer()
        self.cases = [case("case-0001"), case("case-0002", status="escalated", emergency=True, priority="urgent")]
        self.queue = [
            QueueItem(case_id="case-0003", status="escalated", priority="high", age_seconds=600, breached=True),
            QueueItem(
                case_id="case-0002",
                status="escalated",
                priority="urgent",
                emergency=True,
                age_seconds=30,
                time_to_breach_seconds=270,
            ),
        ]
        self.report = StatusReport(
            agents=[
                AgentStats(agent="billing", interactions=12, avg_latency_ms=41.5, p95_latency_ms=80.2, last_active=NOW),
                AgentStats(agent="technical", interactions=7, avg_latency_ms=52.0, p95_latency_ms=95.0),
            ],
            routes={"billing": 12, "technical": 7, "escalation": 2},
            degraded=3,
            rate_limit_rejections=4,
            auth_failures=5,
        )

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if name in self.failures:
            raise self.failures[name]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def sign_in(self, username: str, password: str) -> AuthSession:
        self._record("sign_in", username=username)
        known = self.accounts.get(username)
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
        return self.next_answer

    def list_cases(
        self, token: str, *, customer_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> CasePage:
        self._record("list_cases", token=token, customer_id=customer_id)
        return CasePage(items=[CaseSummary(**c.model_dump(exclude={"messages"})) for c in self.cases])

    def get_case(self, token: str, case_id: str) -> CaseDetail:
        self._record("get_case", token=token, case_id=case_id)
        return next((c for c in self.cases if c.case_id == case_id), case(case_id))

    def status(self, token: str) -> StatusReport:
        self._record("status", token=token)
        return self.report

    def oncall_queue(self, token: str) -> list[QueueItem]:
        self._record("oncall_queue", token=token)
        return self.queue

    def acknowledge(self, token: str, case_id: str) -> CaseDetail | None:
        self._record("acknowledge", case_id=case_id)
        return None

    def reply(self, token: str, case_id: str, text: str) -> CaseDetail | None:
        self._record("reply", case_id=case_id, text=text)
        return None

    def set_status(self, token: str, case_id: str, status: CaseStatus) -> CaseDetail | None:
        self._record("set_status", case_id=case_id, status=status)
        return None

    def hand_back(self, token: str, case_id: str) -> CaseDetail | None:
        self._record("hand_back", case_id=case_id)
        return None
