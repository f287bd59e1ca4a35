"""`/support/*`: file a request (routed automatically or forced to one specialist) and classify."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.context import RequestContext
from api.deps import ContextDep, CurrentUser, IntakeDep
from api.presenters import support_response
from api.responses import model_response
from api.schemas import ClassifyIn, ClassifyOut, SupportRequestIn, SupportResponse
from crew.models import Route
from desk import intake

router = APIRouter(prefix="/support", tags=["support"])


def file(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: RequestContext, route: Route) -> Response:
    request = intake.NewRequest(body.message, body.customer_id, body.context, body.emergency, route)
    reply = intake.file_request(desk, user, request, ctx.request_id)
    ctx.customer_id, ctx.case_id = reply.case.customer_id, reply.case.id
    ctx.route = reply.case.requested_route.value
    return model_response(support_response(reply))


# These are `def` endpoints: FastAPI runs them on the threadpool (sized from CREW_MAX_WORKERS at startup),
# so a slow model call blocks one worker thread, never the event loop. They return `model_response(...)`
# (api/responses.py): the model is serialised once, on that thread, with no second hop for validation.


@router.post("/request", response_model=SupportResponse)
def support_request(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """File a support request; the crew picks the specialist."""
    return file(body, user, desk, ctx, Route.AUTO)


@router.post("/billing", response_model=SupportResponse)
def support_billing(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """File a request straight to the billing specialist."""
    return file(body, user, desk, ctx, Route.BILLING)


@router.post("/technical", response_model=SupportResponse)
def support_technical(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """File a request straight to the technical specialist."""
    return file(body, user, desk, ctx, Route.TECHNICAL)


@router.post("/escalation", response_model=SupportResponse)
def support_escalation(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """File a request straight to the escalation specialist."""
    return file(body, user, desk, ctx, Route.ESCALATION)


@router.post("/complex", response_model=SupportResponse)
def support_complex(body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """File a request that needs several specialists."""
    return file(body, user, desk, ctx, Route.COMPLEX)


@router.post("/classify", response_model=ClassifyOut)
def classify(body: ClassifyIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep) -> Response:
    """Classify a message and name the route it would take; creates no case."""
    result = intake.classify(desk, user, body.message, body.customer_id, ctx.request_id)
    ctx.customer_id = intake.limit_key(user, body.customer_id)
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
