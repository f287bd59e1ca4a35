"""`/support/cases`: read cases and their threads, within what the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContextDep, CurrentUser, SessionDep
from api.schemas import CaseList, CaseOut, CaseSummary, CitationOut, MessageOut
from crew.models import Priority
from desk.cases import get_case_for, list_cases_for
from desk.models import Case, CaseStatus
from security.sanitize import CUSTOMER_ID_PATTERN

router = APIRouter(prefix="/support/cases", tags=["cases"])


def summary(case: Case) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        customer_id=case.customer_id,
        status=case.status,
        requested_route=case.requested_route,
        agent_type=case.route,
        category=case.category,
        priority=case.priority,
        confidence=case.confidence,
        emergency=case.emergency,
        auto_emergency=case.auto_emergency,
        sanitised=case.sanitised,
        degraded=case.degraded,
        error_code=case.error_code,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


@router.get("", response_model=CaseList)
def list_cases(
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    customer_id: Annotated[str | None, Query(pattern=CUSTOMER_ID_PATTERN)] = None,
    status: CaseStatus | None = None,
    priority: Priority | None = None,
    emergency: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseList:
    """List the cases you may see, newest first."""
    ctx.customer_id = customer_id
    rows, total = list_cases_for(
        session,
        user,
        customer_id=customer_id,
        status=status.value if status else None,
        priority=priority.value if priority else None,
        emergency=emergency,
        limit=limit,
        offset=offset,
    )
    return CaseList(items=[summary(c) for c in rows], total=total, limit=limit, offset=offset)


@router.get("/{case_id}", response_model=CaseOut)
def read_case(case_id: str, user: CurrentUser, session: SessionDep, ctx: ContextDep) -> CaseOut:
    """One case with its thread of messages."""
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    messages = [
        MessageOut(
            author=m.author, text=m.text, citations=[CitationOut(**c) for c in m.citations], created_at=m.created_at
        )
        for m in case.messages
    ]
    return CaseOut(**summary(case).model_dump(), messages=messages)
