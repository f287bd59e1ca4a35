"""Cases and their messages: who may see which, and the state changes of one support request."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from crew.decision import decide
from crew.models import Category, Priority, Route, SupportResult, ThreadMessage
from desk.accounts import Principal
from desk.errors import NotFound, PermissionDenied
from desk.models import Author, Case, CaseMessage, CaseStatus, Role, utcnow
from desk.sla.history import record_status


def new_case_id() -> str:
    # Random, not sequential: ids reveal nothing about volume and cannot be enumerated.
    return uuid.uuid4().hex


WITH_PEOPLE = (CaseStatus.ESCALATED, CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS, CaseStatus.NEEDS_HUMAN)


@dataclass
class OpenCase:
    """The state of the case a support request is working on (kept in memory: no reload after writes)."""

    id: str
    customer_id: str
    requested_route: Route
    emergency: bool
    sanitised: bool
    status: CaseStatus
    route: Route | None = None
    category: Category | None = None
    priority: Priority | None = None
    confidence: float | None = None
    degraded: bool = False
    updated_at: datetime = field(default_factory=utcnow)
    # A follow-up keeps the category, route and priority its case was given by the first answer.
    follow_up: bool = False
    context: dict[str, Any] | None = None
    language: str | None = None


@dataclass(frozen=True)
class CaseThread:
    """A stored case as the intake needs it for a follow-up: its state and the thread so far."""

    case: OpenCase
    history: tuple[ThreadMessage, ...]

    @property
    def customer_id(self) -> str:
        return self.case.customer_id

    @property
    def with_people(self) -> bool:
        return self.case.status in WITH_PEOPLE


def case_state(case: Case | Row[Any], *, follow_up: bool, emergency: bool | None = None) -> OpenCase:
    """A stored case (an ORM object or a row of the cases table) as the intake and the jobs work on it;
    `emergency` overrides the stored flag."""
    return OpenCase(
        id=case.id,
        customer_id=case.customer_id,
        requested_route=Route(case.requested_route),
        emergency=case.emergency if emergency is None else emergency,
        sanitised=case.sanitised,
        status=CaseStatus(case.status),
        route=Route(case.route) if case.route else None,
        category=Category(case.category) if case.category else None,
        priority=Priority(case.priority) if case.priority else None,
        confidence=case.confidence,
        degraded=case.degraded,
        updated_at=case.updated_at,
        follow_up=follow_up,
        context=case.context,
        language=case.language,
    )


def thread_of(case: Case) -> CaseThread:
    # Whether *this* message is an emergency is decided by the intake (`escalate`), not inherited: a case
    # handed back to the crew is answered like any other until a message is an emergency again.
    state = case_state(case, follow_up=True, emergency=False)
    return CaseThread(state, tuple(ThreadMessage(author=m.author, text=m.text) for m in case.messages))


# The writes of a support request are Core statements on the tables with parameters passed apart, so
# SQLAlchemy compiles each statement once: they run on every request, and an ORM unit of work (or a
# statement with inline values) costs several times as much (measured with bench/api_layer.py). The
# statements are built once here (immutable constructs), and they run on a plain Connection in one
# `engine.begin()` block per state change: an ORM Session around them only added transaction bookkeeping
# that nothing here uses (no ORM object is loaded or flushed): open + answer took 0.53-0.62 ms of CPU
# through a Session, 0.29-0.32 ms on the engine's connections (SQLite, measured side by side).
CASES = cast(Table, Case.__table__)
MESSAGES = cast(Table, CaseMessage.__table__)
INSERT_CASE = insert(CASES)
INSERT_MESSAGE = insert(MESSAGES)
UPDATE_CASE = update(CASES).where(CASES.c.id == bindparam("case_id"))
# The case a job answers, without its thread (the job carries the thread it was filed with): read by the claim.
SELECT_CASE = select(CASES).where(CASES.c.id == bindparam("case_id"))


def _message_row(
    case_id: str, author: Author, text: str, citations: list[dict[str, str]], at: datetime
) -> dict[str, Any]:
    return {"case_id": case_id, "author": author.value, "text": text, "citations": citations, "created_at": at}


SUBJECT_MAX = 80


def subject_of(message: str) -> str:
    """The first line of a message, cut at a word near SUBJECT_MAX characters."""
    first = message.strip().splitlines()[0].strip() if message.strip() else ""
    if len(first) <= SUBJECT_MAX:
        return first
    cut = first.rfind(" ", 0, SUBJECT_MAX)
    return first[: cut if cut > SUBJECT_MAX // 2 else SUBJECT_MAX].rstrip(" ,.;:") + "…"


def insert_case(
    conn: Connection,
    *,
    customer_id: str,
    account_id: int,
    requested_route: Route,
    emergency: bool,
    sanitised: bool,
    context: dict[str, Any] | None,
    message: str,
    language: str | None = None,
    queued: bool = False,
) -> OpenCase:
    """Insert the case and the customer's first message on `conn`, in the caller's transaction, which commits
    before the crew runs: a crew failure or a crash leaves the case stored. `queued`: the caller stores the
    crew's job in the same transaction, so a case that is not an emergency starts as queued (one UPDATE less)."""
    case = OpenCase(
        id=new_case_id(),
        customer_id=customer_id,
        requested_route=requested_route,
        emergency=emergency,
        sanitised=sanitised,
        status=CaseStatus.ESCALATED if emergency else CaseStatus.QUEUED if queued else CaseStatus.OPEN,
        priority=Priority.URGENT if emergency else None,
        language=language,
    )
    conn.execute(
        INSERT_CASE,
        {
            "id": case.id,
            "customer_id": customer_id,
            "created_by": account_id,
            "requested_route": requested_route.value,
            "status": case.status.value,
            "priority": case.priority.value if case.priority else None,
            "emergency": emergency,
            "auto_emergency": False,
            "sanitised": sanitised,
            "degraded": False,
            "context": context,
            "subject": subject_of(message),
            "language": language,
            "last_author": Author.CUSTOMER.value,
            "created_at": case.updated_at,
            "updated_at": case.updated_at,
        },
    )
    conn.execute(INSERT_MESSAGE, _message_row(case.id, Author.CUSTOMER, message, [], case.updated_at))
    return case


def record_answer(
    engine: Engine,
    case: OpenCase,
    result: SupportResult,
    *,
    reply: str,
    citations: list[dict[str, str]],
    reply_sanitised: bool,
    latency_ms: float,
    needs_human: bool = False,
    same_transaction: Callable[[Connection], None] | None = None,
) -> None:
    """Store the crew's answer. `needs_human`: the answer stands, but the case waits in the people's queue.
    `same_transaction`: more writes that must commit with the answer (the job's end), on its connection."""
    classification = result.classification
    case.degraded = result.degraded
    case.sanitised = case.sanitised or reply_sanitised
    decision = decide(classification, forced=result.agent_type, flagged=case.emergency)
    if decision.emergency:
        # An emergency stays escalated to a person whatever the crew answered.
        case.route, case.priority, case.status = decision.route, Priority.URGENT, CaseStatus.ESCALATED
    elif case.follow_up and case.route is not None:
        case.status = CaseStatus.ANSWERED
    else:
        case.route, case.priority, case.status = decision.route, classification.priority, CaseStatus.ANSWERED
    if not case.follow_up or case.category is None:
        case.category, case.confidence = classification.category, classification.confidence
    if needs_human and not decision.emergency:
        case.status = CaseStatus.NEEDS_HUMAN
    case.updated_at = utcnow()
    assert case.route is not None and case.priority is not None and case.category is not None
    with engine.begin() as conn:
        conn.execute(
            UPDATE_CASE,
            {
                "case_id": case.id,
                "route": case.route.value,
                "category": case.category.value,
                "priority": case.priority.value,
                "confidence": case.confidence,
                "degraded": case.degraded,
                "sanitised": case.sanitised,
                "status": case.status.value,
                "crew_latency_ms": latency_ms,
                "last_author": Author.AGENT.value,
                "updated_at": case.updated_at,
            },
        )
        conn.execute(INSERT_MESSAGE, _message_row(case.id, Author.AGENT, reply, citations, case.updated_at))
        # The status the answer left the case in: whether the desk now waits on the customer (SLA clocks).
        record_status(conn, case.id, case.status.value, case.updated_at)
        if same_transaction is not None:
            same_transaction(conn)


def insert_customer_message(conn: Connection, thread: CaseThread, text: str, *, sanitised: bool) -> OpenCase:
    """Insert a follow-up on `conn` (the caller's transaction, committed before the crew runs)."""
    case = thread.case
    case.updated_at = utcnow()
    case.sanitised = case.sanitised or sanitised
    conn.execute(
        UPDATE_CASE,
        {
            "case_id": case.id,
            "sanitised": case.sanitised,
            "last_author": Author.CUSTOMER.value,
            "updated_at": case.updated_at,
        },
    )
    conn.execute(INSERT_MESSAGE, _message_row(case.id, Author.CUSTOMER, text, [], case.updated_at))
    return case


def escalate(engine: Engine, case: OpenCase, *, auto: bool) -> None:
    """A follow-up that is itself an emergency: the case goes (back) to people, urgent."""
    case.emergency, case.status, case.priority = True, CaseStatus.ESCALATED, Priority.URGENT
    case.route, case.updated_at = Route.ESCALATION, utcnow()
    with engine.begin() as conn:
        conn.execute(
            UPDATE_CASE,
            {
                "case_id": case.id,
                "emergency": True,
                "auto_emergency": auto,
                "status": case.status.value,
                "priority": case.priority.value,
                "route": case.route.value,
                "updated_at": case.updated_at,
            },
        )
        record_status(conn, case.id, case.status.value, case.updated_at)


def record_failure(engine: Engine, case: OpenCase, *, error_code: str, latency_ms: float) -> None:
    # An emergency keeps status `escalated` so it stays in the people's queue; the error code says what failed.
    if not case.emergency:
        case.status = CaseStatus.FAILED
    case.updated_at = utcnow()
    with engine.begin() as conn:
        conn.execute(
            UPDATE_CASE,
            {
                "case_id": case.id,
                "status": case.status.value,
                "error_code": error_code,
                "crew_latency_ms": latency_ms,
                "updated_at": case.updated_at,
            },
        )


def _visible(user: Principal) -> Select[Case]:
    query = select(Case)
    if user.role is Role.CUSTOMER:
        return query.where(Case.customer_id == user.customer_id)
    if user.role is Role.INTEGRATOR:
        return query.where(Case.created_by == user.account_id)
    return query


def get_case_for(session: Session, user: Principal, case_id: str) -> Case:
    """The case with its messages, if this caller may see it; otherwise 404 (never 403: no existence leak)."""
    case = session.scalar(_visible(user).where(Case.id == case_id).options(selectinload(Case.messages)))
    if case is None:
        raise NotFound(code="case_not_found")
    return case


def list_cases_for(
    session: Session,
    user: Principal,
    *,
    customer_id: str | None,
    status: str | None,
    priority: str | None,
    emergency: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[Case], int]:
    if user.role is Role.CUSTOMER and customer_id not in (None, user.customer_id):
        raise PermissionDenied(code="other_customer")
    query = _visible(user)
    if customer_id is not None:
        query = query.where(Case.customer_id == customer_id)
    if status is not None:
        query = query.where(Case.status == status)
    if priority is not None:
        query = query.where(Case.priority == priority)
    if emergency is not None:
        query = query.where(Case.emergency == emergency)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Case.created_at.desc(), Case.id).limit(limit).offset(offset)).all()
    return list(rows), total
