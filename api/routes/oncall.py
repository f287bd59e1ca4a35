"""On-call endpoints: staff acknowledge, reply, set a status and hand back; customers follow up on their own
case; staff read the queue of open escalations and the page outbox."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.context import RequestContext
from api.deps import AuditDep, ContextDep, CurrentUser, IntakeDep, SessionDep, SettingsDep, StaffUser
from api.jobs_http import accepted, begin_key, preferences, replay_job, replay_stored, replayed, run_keyed
from api.oncall_schemas import HandBackIn, MessageIn, PageOut, PagesOut, QueueOut, StatusIn
from api.presenters import case_out, queue_item
from api.responses import model_response
from api.routes.support import FILING_RESPONSES
from api.schemas import CaseOut
from api.validation import CaseIdPath, NoNulStr, Offset
from desk import idempotency, intake
from desk.accounts import Principal
from desk.audit import AuditLog
from desk.cases import get_case_for, thread_of
from desk.intake import clean_message
from desk.models import Case, Role, utcnow
from desk.oncall import actions
from desk.oncall.models import PageStatus
from desk.sla.policy import policies_of

router = APIRouter(prefix="/support", tags=["on-call"])


def record_case_event(
    audit: AuditLog, event: str, user: Principal, case: Case, ctx: RequestContext, **fields: object
) -> None:
    """One audit line for an action on a case: who did it, on which case and customer, in which request."""
    audit.record(
        event,
        actor=user.username,
        role=user.role.value,
        case_id=case.id,
        customer_id=case.customer_id,
        request_id=ctx.request_id,
        **fields,
    )


@router.post("/cases/{case_id}/ack", response_model=CaseOut)
def acknowledge_case(
    case_id: CaseIdPath, user: StaffUser, session: SessionDep, audit: AuditDep, ctx: ContextDep
) -> CaseOut:
    """Acknowledge an escalated case: paging stops and the queue shows who has it."""
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    if actions.acknowledge(session, case, user, utcnow()):
        record_case_event(audit, "oncall_ack", user, case, ctx)
    return case_out(case)


@router.post("/cases/{case_id}/messages", response_model=CaseOut, responses=FILING_RESPONSES)
def post_message(
    case_id: CaseIdPath,
    body: MessageIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
    ctx: ContextDep,
    desk: IntakeDep,
    http: Request,
) -> Response:
    """Add a message to the case thread: a staff reply (visible to the customer) or the customer's follow-up.
    A follow-up the crew answers takes `Prefer` and answers 202 like a first message; an `Idempotency-Key`
    makes a retry return the case instead of adding the message twice."""
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    prefs = preferences(http)
    key = begin_key(
        http, settings, desk.engine, user.account_id, lambda: {"case_id": case_id, **body.model_dump(mode="json")}
    )

    def current() -> Response:
        session.expire_all()
        return model_response(case_out(get_case_for(session, user, case_id)))

    if key.replay is not None:
        if key.replay.job_id is not None:
            return replay_job(desk.engine, key.replay, prefs, lambda _outcome: current(), case.customer_id)
        return replayed(current()) if key.replay.case_id is not None else replay_stored(key.replay)

    def staff() -> Response:
        text, changed = clean_message(body.text, settings)
        acknowledged = actions.staff_reply(session, case, user, text, utcnow())
        record_case_event(audit, "case_reply", user, case, ctx, author="staff", sanitised=changed)
        if acknowledged:
            record_case_event(audit, "oncall_ack", user, case, ctx, via="reply")
        if key.key_id is not None:
            idempotency.bind(desk.engine, key.key_id, case_id=case.id)
        return model_response(case_out(case))

    def customer() -> Response:
        # The customer's follow-up takes the same intake as a first message.
        reply = intake.follow_up(
            desk,
            user,
            thread_of(case),
            body.text,
            ctx.request_id,
            wait=prefs.wait_seconds(settings),
            idempotency_key_id=key.key_id,
        )
        if reply.job_id is None and key.key_id is not None:
            idempotency.bind(desk.engine, key.key_id, case_id=case.id)  # people have it: no job, the case
        record_case_event(
            audit,
            "case_reply",
            user,
            case,
            ctx,
            author="customer",
            answered_by_crew=reply.answered_by_crew,
            sanitised="message" in reply.sanitised_fields,
        )
        if reply.pending:
            return accepted(case.id, reply.case.status.value, reply.job_id, prefs)
        return current()

    return run_keyed(desk.engine, key, staff if user.role in (Role.STAFF, Role.ADMIN) else customer)


def _change_status(
    case_id: str, body: StatusIn, user: StaffUser, session: SessionDep, audit: AuditDep, ctx: ContextDep
) -> CaseOut:
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    previous = actions.set_status(session, case, body.status, user, utcnow())
    record_case_event(audit, "case_status", user, case, ctx, from_status=previous, to_status=body.status)
    return case_out(case)


@router.post("/cases/{case_id}/status", response_model=CaseOut)
def change_status(
    case_id: CaseIdPath, body: StatusIn, user: StaffUser, session: SessionDep, audit: AuditDep, ctx: ContextDep
) -> CaseOut:
    """Set the case status: acknowledged, in_progress or resolved."""
    return _change_status(case_id, body, user, session, audit, ctx)


@router.patch("/cases/{case_id}", response_model=CaseOut)
def patch_case(
    case_id: CaseIdPath, body: StatusIn, user: StaffUser, session: SessionDep, audit: AuditDep, ctx: ContextDep
) -> CaseOut:
    """Same as POST /support/cases/{case_id}/status (the web interface's form of it)."""
    return _change_status(case_id, body, user, session, audit, ctx)


@router.post("/cases/{case_id}/handback", response_model=CaseOut)
def hand_back(
    case_id: CaseIdPath,
    user: StaffUser,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
    ctx: ContextDep,
    body: HandBackIn | None = None,
) -> CaseOut:
    """Hand the case back to the AI agents, which answer the customer's next message with the whole thread.
    An optional note is added to the thread as a staff message first."""
    case = get_case_for(session, user, case_id)
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    note = clean_message(body.note, settings)[0] if body is not None and body.note else None
    actions.hand_back(session, case, user, utcnow(), note=note)
    record_case_event(audit, "case_handback", user, case, ctx, with_note=note is not None)
    return case_out(case)


@router.get("/oncall/queue", response_model=QueueOut)
def oncall_queue(
    user: StaffUser,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
    kind: Annotated[Literal["emergency", "needs_human"] | None, Query(description="One queue only")] = None,
) -> QueueOut:
    """Cases with people: emergencies first, then by time to SLA breach (`sla`), with age and the KB-031
    first-response clock."""
    now = utcnow()
    items, total = actions.queue(
        session, now=now, limit=limit, offset=offset, kind=kind, policies=policies_of(settings)
    )
    return QueueOut(
        items=[queue_item(item) for item in items],
        total=total,
        limit=limit,
        offset=offset,
        generated_at=now,
    )


@router.get("/oncall/pages", response_model=PagesOut)
def oncall_pages(
    user: StaffUser,
    session: SessionDep,
    settings: SettingsDep,
    case_id: NoNulStr | None = None,
    status: PageStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> PagesOut:
    """The page outbox, newest first (also what the on-call page shows when no webhook is configured)."""
    items, total, counts = actions.pages(
        session, case_id=case_id, status=status.value if status else None, limit=limit, offset=offset
    )
    return PagesOut(
        items=[PageOut.model_validate(row, from_attributes=True) for row in items],
        total=total,
        limit=limit,
        offset=offset,
        counts=counts,
        webhook_configured=bool(settings.oncall_webhook_url),
        secondary_webhook_configured=bool(settings.oncall_secondary_webhook_url),
    )
