"""Numbers for `/support/status`, computed from the cases and audit tables, and the support metrics of
desk/metrics.py (first-response and resolution times, automation, handoff and reopen rates, SLA % met)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crew.stats import percentile
from desk.metrics import Metrics, desk_metrics
from desk.models import AuditEvent, Case, utcnow
from desk.sla.policy import SlaPolicies

# p95 over the most recent answers of each agent: recent behaviour matters, and it bounds the query.
P95_WINDOW = 1000
AUTH_FAILURE_EVENTS = ("login_failed", "login_rate_limited", "token_rejected")


class AgentStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_type: str
    interactions: int
    average_latency_ms: float | None
    p95_latency_ms: float | None
    last_active: datetime | None


class DeskStatus(BaseModel):
    """The status page's numbers. A pydantic model so the API's response schema extends it (api/schemas.py)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    agents: list[AgentStats]
    routing_counts: dict[str, int]
    degraded_count: int
    cases_by_status: dict[str, int]
    rate_limit_rejections_last_hour: int
    auth_failures_last_hour: int
    metrics: Metrics | None = None


def _p95(values: list[float]) -> float | None:
    return round(percentile(values, 95), 2) if values else None


def desk_status(
    session: Session, *, policies: SlaPolicies | None = None, days: int = 30, now: datetime | None = None
) -> DeskStatus:
    """With `policies`, also the support metrics over the last `days` days."""
    agents: list[AgentStats] = []
    per_route = session.execute(
        select(Case.route, func.count(), func.avg(Case.crew_latency_ms), func.max(Case.updated_at))
        .where(Case.route.is_not(None))
        .group_by(Case.route)
    ).all()
    for route, count, average, last in per_route:
        recent = session.scalars(
            select(Case.crew_latency_ms)
            .where(Case.route == route, Case.crew_latency_ms.is_not(None))
            .order_by(Case.updated_at.desc())
            .limit(P95_WINDOW)
        ).all()
        agents.append(
            AgentStats(
                agent_type=route,
                interactions=count,
                average_latency_ms=round(average, 2) if average is not None else None,
                p95_latency_ms=_p95([v for v in recent if v is not None]),
                last_active=last,
            )
        )
    by_status = dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).tuples().all())
    now = now or utcnow()
    since = now - timedelta(hours=1)

    def events(*names: str) -> int:
        query = select(func.count()).where(AuditEvent.event.in_(names), AuditEvent.ts >= since)
        return session.scalar(query) or 0

    return DeskStatus(
        agents=agents,
        routing_counts={a.agent_type: a.interactions for a in agents},
        degraded_count=session.scalar(select(func.count()).where(Case.degraded.is_(True))) or 0,
        cases_by_status=by_status,
        rate_limit_rejections_last_hour=events("rate_limited"),
        auth_failures_last_hour=events(*AUTH_FAILURE_EVENTS),
        metrics=desk_metrics(session, policies, now=now, days=days) if policies is not None else None,
    )
