"""`/support/*`: file a request (routed automatically or forced to one specialist) and classify."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import (
    AuditDep,
    ContextDep,
    CrewDep,
    CurrentUser,
    EscalationDep,
    LimitsDep,
    SessionDep,
    SettingsDep,
)
from api.schemas import ClassifyIn, ClassifyOut, SupportRequestIn, SupportResponse
from api.services.support import SupportCall, clean_message, enforce_limit, limit_key, run_support_request
from crew.models import Route

router = APIRouter(prefix="/support", tags=["support"])


async def support_call(
    session: SessionDep, settings: SettingsDep, crew: CrewDep, limits: LimitsDep, audit: AuditDep,
    ctx: ContextDep, hook: EscalationDep,
) -> SupportCall:
    return SupportCall(session, settings, crew, limits, audit, ctx, hook)


CallDep = Annotated[SupportCall, Depends(support_call)]

# These are `def` endpoints: FastAPI runs them on the threadpool (sized from CREW_MAX_WORKERS at startup),
# so a slow model call blocks one worker thread, never the event loop.


@router.post("/request", response_model=SupportResponse)
def support_request(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> SupportResponse:
    """File a support request; the crew picks the specialist."""
    return run_support_request(call, user, body, Route.AUTO)


@router.post("/billing", response_model=SupportResponse)
def support_billing(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> SupportResponse:
    """File a request straight to the billing specialist."""
    return run_support_request(call, user, body, Route.BILLING)


@router.post("/technical", response_model=SupportResponse)
def support_technical(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> SupportResponse:
    """File a request straight to the technical specialist."""
    return run_support_request(call, user, body, Route.TECHNICAL)


@router.post("/escalation", response_model=SupportResponse)
def support_escalation(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> SupportResponse:
    """File a request straight to the escalation specialist."""
    return run_support_request(call, user, body, Route.ESCALATION)


@router.post("/complex", response_model=SupportResponse)
def support_complex(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> SupportResponse:
    """File a request that needs several specialists."""
    return run_support_request(call, user, body, Route.COMPLEX)


@router.post("/classify", response_model=ClassifyOut)
def classify(body: ClassifyIn, user: CurrentUser, call: CallDep) -> ClassifyOut:
    """Classify a message and name the route it would take; creates no case."""
    key = limit_key(user, body.customer_id)
    call.ctx.customer_id = key
    message, _changed = clean_message(body.message, call.settings)
    enforce_limit(call, key)
    result = call.crew.classify(message)
    return ClassifyOut(
        category=result.category, priority=result.priority, confidence=result.confidence,
        is_complex=result.is_complex, route=result.route(), signals=result.signals,
        secondary_categories=result.secondary_categories,
    )
