"""`/support/*`: file a request (routed automatically or forced to one specialist) and classify.

Filing hands the case to the crew's job (desk/jobs/) and waits for its answer: 200 with the answer, or 202
`{case_id, status, status_url, events_url}` with `Prefer: respond-async` or once JOB_WAIT_SECONDS pass
(api/jobs_http.py). An `Idempotency-Key` makes a retry return the first case instead of opening a second.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.context import RequestContext
from api.deps import ContextDep, CurrentUser, IntakeDep
from api.jobs_http import JobAccepted, accepted, begin_key, preferences, replay_job, replay_stored, run_keyed
from api.presenters import support_response
from api.responses import model_response
from api.schemas import ClassifyIn, ClassifyOut, SupportRequestIn, SupportResponse
from crew.models import Route
from desk import intake
from desk.accounts import Principal
from desk.jobs.outcome import JobOutcome, open_case_of

router = APIRouter(prefix="/support", tags=["support"])
FILING_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobAccepted,
        "description": "Accepted: the answer is not there yet (`Prefer: respond-async`, or JOB_WAIT_SECONDS "
        "passed). Follow `status_url` (queued, running, answered, failed) or stream `events_url`.",
    }
}


def file(
    body: SupportRequestIn, user: Principal, desk: intake.Intake, ctx: RequestContext, route: Route, http: Request
) -> Response:
    prefs = preferences(http)
    key = begin_key(http, desk.settings, desk.engine, user.account_id, lambda: body.model_dump(mode="json"))
    if key.replay is not None:
        earlier = key.replay
        ctx.case_id = earlier.case_id
        if earlier.job_id is not None:
            return replay_job(desk.engine, earlier, prefs, _answered)
        return replay_stored(earlier)

    def act() -> Response:
        request = intake.NewRequest(body.message, body.customer_id, body.context, body.emergency, route)
        reply = intake.file_request(
            desk, user, request, ctx.request_id, wait=prefs.wait_seconds(desk.settings), idempotency_key_id=key.key_id
        )
        ctx.customer_id, ctx.case_id = reply.case.customer_id, reply.case.id
        ctx.route = reply.case.requested_route.value
        if reply.pending:
            return accepted(reply.case.id, reply.case.status.value, reply.job_id, prefs)
        return model_response(support_response(reply))

    return run_keyed(desk.engine, key, act)


def _answered(outcome: JobOutcome) -> Response:
    reply = intake.Reply(open_case_of(outcome.case), outcome.reply, outcome.citations, job_id=outcome.job_id)
    return model_response(support_response(reply))


# These are `def` endpoints: FastAPI runs them on the threadpool (sized from CREW_MAX_WORKERS at startup),
# so a request waiting for its job blocks one worker thread, never the event loop. They return
# `model_response(...)` (api/responses.py): the model is serialised once, on that thread, with no second hop
# for validation.


@router.post("/request", response_model=SupportResponse, responses=FILING_RESPONSES)
def support_request(
    body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep, http: Request
) -> Response:
    """File a support request; the crew picks the specialist."""
    return file(body, user, desk, ctx, Route.AUTO, http)


@router.post("/billing", response_model=SupportResponse, responses=FILING_RESPONSES)
def support_billing(
    body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep, http: Request
) -> Response:
    """File a request straight to the billing specialist."""
    return file(body, user, desk, ctx, Route.BILLING, http)


@router.post("/technical", response_model=SupportResponse, responses=FILING_RESPONSES)
def support_technical(
    body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep, http: Request
) -> Response:
    """File a request straight to the technical specialist."""
    return file(body, user, desk, ctx, Route.TECHNICAL, http)


@router.post("/escalation", response_model=SupportResponse, responses=FILING_RESPONSES)
def support_escalation(
    body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep, http: Request
) -> Response:
    """File a request straight to the escalation specialist."""
    return file(body, user, desk, ctx, Route.ESCALATION, http)


@router.post("/complex", response_model=SupportResponse, responses=FILING_RESPONSES)
def support_complex(
    body: SupportRequestIn, user: CurrentUser, desk: IntakeDep, ctx: ContextDep, http: Request
) -> Response:
    """File a request that needs several specialists."""
    return file(body, user, desk, ctx, Route.COMPLEX, http)


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
