"""`/support/*`: file a request (routed automatically or forced to one specialist) and classify."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.context import RequestContext
from api.deps import CurrentUser
from api.responses import model_response
from api.schemas import ClassifyIn, ClassifyOut, SupportRequestIn, SupportResponse
from crew.models import Route
from desk.crew_holder import CrewHolder
from desk.intake import SupportCall, clean_message, enforce_limit, limit_key, run_support_request

router = APIRouter(prefix="/support", tags=["support"])


async def support_call(request: Request) -> SupportCall:
    # One dependency reading app.state and the request context, rather than one FastAPI dependency per
    # object: each costs a resolution step on every request. No Session either: the case is written on the
    # engine's connections (desk/cases.py), so no per-request generator dependency to set up and
    # tear down. A crew still loading answers 503 here, as before.
    state = request.app.state
    holder: CrewHolder = state.crew_holder
    ctx: RequestContext = request.state.ctx
    return SupportCall(
        state.engine, state.settings, holder.get(), state.limits, state.audit, ctx, state.escalation_hook
    )


CallDep = Annotated[SupportCall, Depends(support_call)]

# These are `def` endpoints: FastAPI runs them on the threadpool (sized from CREW_MAX_WORKERS at startup),
# so a slow model call blocks one worker thread, never the event loop. They return `model_response(...)`
# (api/responses.py): the model is serialised once, on that thread, with no second hop for validation.


@router.post("/request", response_model=SupportResponse)
def support_request(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> Response:
    """File a support request; the crew picks the specialist."""
    return model_response(run_support_request(call, user, body, Route.AUTO))


@router.post("/billing", response_model=SupportResponse)
def support_billing(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> Response:
    """File a request straight to the billing specialist."""
    return model_response(run_support_request(call, user, body, Route.BILLING))


@router.post("/technical", response_model=SupportResponse)
def support_technical(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> Response:
    """File a request straight to the technical specialist."""
    return model_response(run_support_request(call, user, body, Route.TECHNICAL))


@router.post("/escalation", response_model=SupportResponse)
def support_escalation(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> Response:
    """File a request straight to the escalation specialist."""
    return model_response(run_support_request(call, user, body, Route.ESCALATION))


@router.post("/complex", response_model=SupportResponse)
def support_complex(body: SupportRequestIn, user: CurrentUser, call: CallDep) -> Response:
    """File a request that needs several specialists."""
    return model_response(run_support_request(call, user, body, Route.COMPLEX))


@router.post("/classify", response_model=ClassifyOut)
def classify(body: ClassifyIn, user: CurrentUser, call: CallDep) -> Response:
    """Classify a message and name the route it would take; creates no case."""
    key = limit_key(user, body.customer_id)
    call.ctx.customer_id = key
    message, _changed = clean_message(body.message, call.settings)
    enforce_limit(call, key)
    result = call.crew.classify(message)
    return model_response(
        ClassifyOut(
            category=result.category,
            priority=result.priority,
            confidence=result.confidence,
            is_complex=result.is_complex,
            route=result.route(),
            signals=result.signals,
            secondary_categories=result.secondary_categories,
        )
    )
