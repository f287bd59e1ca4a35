"""What a finished job tells whoever waits for it: the case as the answer left it and the reply. Plain JSON, so
it travels the same way from a thread of this process or from a worker on another machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from crew.models import Category, Priority, Route
from desk.cases import OpenCase, case_state
from desk.jobs.models import Job, JobStatus
from desk.models import Author, Case, CaseStatus


def snapshot(case: OpenCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "customer_id": case.customer_id,
        "requested_route": case.requested_route.value,
        "emergency": case.emergency,
        "sanitised": case.sanitised,
        "status": case.status.value,
        "route": case.route.value if case.route else None,
        "category": case.category.value if case.category else None,
        "priority": case.priority.value if case.priority else None,
        "confidence": case.confidence,
        "degraded": case.degraded,
        "updated_at": case.updated_at.isoformat(),
        "follow_up": case.follow_up,
    }


def open_case_of(data: dict[str, Any]) -> OpenCase:
    return OpenCase(
        id=data["id"],
        customer_id=data["customer_id"],
        requested_route=Route(data["requested_route"]),
        emergency=bool(data["emergency"]),
        sanitised=bool(data["sanitised"]),
        status=CaseStatus(data["status"]),
        route=Route(data["route"]) if data.get("route") else None,
        category=Category(data["category"]) if data.get("category") else None,
        priority=Priority(data["priority"]) if data.get("priority") else None,
        confidence=data.get("confidence"),
        degraded=bool(data.get("degraded")),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        follow_up=bool(data.get("follow_up")),
    )


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    case_id: str
    status: str  # answered | failed
    case: dict[str, Any]
    reply: str | None = None
    citations: list[dict[str, str]] = field(default_factory=list)
    error_code: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == JobStatus.ANSWERED.value

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "case_id": self.case_id,
            "status": self.status,
            "case": self.case,
            "reply": self.reply,
            "citations": self.citations,
            "error_code": self.error_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOutcome:
        return cls(
            job_id=str(data["job_id"]),
            case_id=str(data["case_id"]),
            status=str(data["status"]),
            case=dict(data["case"]),
            reply=data.get("reply"),
            citations=list(data.get("citations") or []),
            error_code=data.get("error_code"),
        )


def load(engine: Engine, job_id: str) -> JobOutcome | None:
    """The outcome of a finished job read back from the tables (None while it is queued or running): for
    API processes that poll instead of listening, and for replays of an Idempotency-Key."""
    with Session(engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in (JobStatus.ANSWERED.value, JobStatus.FAILED.value):
            return None
        case = session.scalar(select(Case).where(Case.id == job.case_id).options(selectinload(Case.messages)))
        if case is None:
            return None
        replies = [m for m in case.messages if m.author == Author.AGENT.value and m.created_at >= job.created_at]
        reply = replies[-1] if replies and job.status == JobStatus.ANSWERED.value else None
        return JobOutcome(
            job_id=job.id,
            case_id=case.id,
            status=job.status,
            case=snapshot(case_state(case, follow_up=job.kind == "follow_up")),
            reply=reply.text if reply is not None else None,
            citations=list(reply.citations) if reply is not None else [],
            error_code=job.error_code,
        )
