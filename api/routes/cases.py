"""`/support/cases`: read cases and their threads, within what the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContextDep, CurrentUser, SessionDep, SettingsDep
from api.presenters import case_out, summary
from api.schemas import CaseList, CaseOut
from api.validation import CaseIdPath, Offset
from crew.models import Priority
from desk.cases import get_case_for, list_cases_for
from desk.models import CaseStatus, Role, utcnow
from desk.sla.policy import policies_of
from desk.staff_view import staff_view
from security.sanitize import CUSTOMER_ID_PATTERN

router = APIRouter(prefix="/support/cases", tags=["cases"])


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
    offset: Offset = 0,
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
def read_case(
    case_id: CaseIdPath, user: CurrentUser, session: SessionDep, settings: SettingsDep, ctx: ContextDep
) -> CaseOut:
    """One case with its thread of messages. Staff also get the customer's profile, the SLA clocks and the
    desk's notes (status changes, SLA events), which customers and integrators do not see."""
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    if user.role not in (Role.STAFF, Role.ADMIN):
        return case_out(case)
    return case_out(case, staff_view(session, case, policies_of(settings), utcnow()))
