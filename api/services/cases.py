"""Cases and their messages: who may see which, and the state changes of one support request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from api.models import Author, Case, CaseMessage, CaseStatus, Role, utcnow
from api.services.accounts import Principal
from crew.errors import NotFound, PermissionDenied
from crew.models import Priority, Route, SupportResult


def new_case_id() -> str:
    # Random, not sequential: ids reveal nothing about volume and cannot be enumerated.
    return uuid.uuid4().hex


def open_case(
    session: Session,
    *,
    customer_id: str,
    account_id: int,
    requested_route: Route,
    emergency: bool,
    sanitised: bool,
    context: dict[str, Any] | None,
    message: str,
) -> Case:
    """Store the case and the customer's message before the crew runs (so a crew failure leaves a trace)."""
    case = Case(
        id=new_case_id(),
        customer_id=customer_id,
        created_by=account_id,
        requested_route=requested_route.value,
        status=CaseStatus.ESCALATED if emergency else CaseStatus.OPEN,
        priority=Priority.URGENT if emergency else None,
        emergency=emergency,
        sanitised=sanitised,
        context=context,
    )
    case.messages.append(CaseMessage(author=Author.CUSTOMER, text=message, citations=[]))
    session.add(case)
    session.commit()
    return case


def record_answer(
    session: Session, case: Case, result: SupportResult, *, reply: str, citations: list[dict[str, str]],
    reply_sanitised: bool, latency_ms: float,
) -> None:
    classification = result.classification
    case.route = result.agent_type.value
    case.category = classification.category.value
    case.confidence = classification.confidence
    case.degraded = result.degraded
    case.crew_latency_ms = latency_ms
    case.sanitised = case.sanitised or reply_sanitised
    if case.emergency:
        # An emergency stays escalated to a person whatever the crew answered.
        case.route = Route.ESCALATION.value
        case.priority = Priority.URGENT.value
        case.status = CaseStatus.ESCALATED
    else:
        case.priority = classification.priority.value
        case.status = CaseStatus.ANSWERED
    case.updated_at = utcnow()
    session.add(CaseMessage(case_id=case.id, author=Author.AGENT, text=reply, citations=citations))
    session.commit()


def record_failure(session: Session, case: Case, *, error_code: str, latency_ms: float) -> None:
    # An emergency keeps status `escalated` so it stays in the people's queue; the error code says what failed.
    if not case.emergency:
        case.status = CaseStatus.FAILED
    case.error_code = error_code
    case.crew_latency_ms = latency_ms
    case.updated_at = utcnow()
    session.commit()


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
