"""One intake for every customer message: the first message of a case and each follow-up on it.

Both take the same steps, in this order:
    who the message acts for -> sanitising -> the customer's rate limit -> the route and emergency decision
    (`crew.decision.decide`, with the auto-emergency rule) -> the message and the crew's job stored before
    the crew runs (one transaction; an emergency pages first and stores its job after) -> the crew, with
    the thread so far -> the answer, or the failure, recorded with the crew's latency.
The crew's part runs as a job (desk/jobs/): `_run_job` runs it here or sends it to the app's queue (the
embedded pool or a Celery worker) and waits for it up to a time; the job runs `answer_case`. Unless the
rate-limit store is down, the auto-emergency check (a classifier call) is the job's first step too.
A follow-up on a case that people have (escalated, acknowledged, in progress) is stored and not answered by
the crew. Use cases here return domain results; the API turns them into responses.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine

from crew.decision import Decision, decide
from crew.errors import CrewError
from crew.models import Classification, Priority, Route, SupportCrew, SupportResult, ThreadMessage
from desk import cases, customers, handoff, injection_guard, scope
from desk.accounts import Principal
from desk.articles import Articles
from desk.audit import AuditLog
from desk.errors import AppError, CrewFailed, InputRejected, PermissionDenied, ServiceUnavailable
from desk.escalation import EscalationHook
from desk.jobs.outcome import open_case_of
from desk.language import LanguageGuesser, english_only_notice
from desk.models import CaseStatus, Role, utcnow
from desk.ratelimit import LIMIT_STORE_DOWN, RateLimits
from desk.settings import Settings
from security.sanitize import ContextRejected, clean_context, clean_text

if TYPE_CHECKING:
    from desk.jobs.queue import JobQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """The per-app collaborators every customer message needs (no globals)."""

    engine: Engine
    settings: Settings
    crew: SupportCrew
    limits: RateLimits
    audit: AuditLog
    hook: EscalationHook
    # One per app each: lingua's detector and the knowledge base are built once, on first use.
    languages: LanguageGuesser
    articles: Articles
    # Where the crew runs (desk/jobs/): the app's queue (embedded pool or Celery broker). None: in the caller's
    # thread, with the same job code, for synchronous callers that have no queue.
    jobs: JobQueue | None = None


@dataclass(frozen=True)
class NewRequest:
    """A first message: what the caller sent to /support/*."""

    message: str
    customer_id: str | None = None
    context: dict[str, Any] | None = None
    emergency: bool = False
    route: Route = Route.AUTO


@dataclass(frozen=True)
class Reply:
    """What the desk answered to one customer message. `reply` is None when people have the case."""

    case: cases.OpenCase
    reply: str | None
    citations: list[dict[str, str]] = field(default_factory=list)
    sanitised_fields: tuple[str, ...] = ()
    # The crew's job for this message; `pending` when its answer was not there within the wait (202).
    job_id: str | None = None
    pending: bool = False

    @property
    def answered_by_crew(self) -> bool:
        return self.reply is not None


@dataclass(frozen=True)
class CleanInput:
    message: str
    context: dict[str, Any] | None
    changed_fields: tuple[str, ...]


def acting_customer(user: Principal, requested: str | None) -> str:
    """The customer a request acts for. Customers act only for themselves; integrators must name one."""
    if user.role is Role.CUSTOMER:
        if requested is not None and requested != user.customer_id:
            raise PermissionDenied("You may only act for your own customer id.", code="other_customer")
        assert user.customer_id is not None  # enforced when the account is created
        return user.customer_id
    if user.role is Role.INTEGRATOR:
        if requested is None:
            raise InputRejected("Integrator requests must name the customer_id they act for.", field="customer_id")
        return requested
    raise PermissionDenied("Staff and admin accounts do not file support requests.", code="role_cannot_file")


def limit_key(user: Principal, requested: str | None) -> str:
    """Rate-limit key where naming a customer is optional (classify): the customer, else the account."""
    if user.role is Role.CUSTOMER:
        return acting_customer(user, requested)
    return requested if requested is not None else f"account:{user.account_id}"


def clean_message(raw: str, settings: Settings) -> tuple[str, bool]:
    cleaned = clean_text(raw)
    if not cleaned.text:
        raise InputRejected("The message is empty once markup and control characters are removed.", field="message")
    if len(cleaned.text) > settings.max_message_length:
        raise InputRejected(f"The message is longer than {settings.max_message_length} characters.", field="message")
    return cleaned.text, cleaned.changed


def sanitise_input(message: str, context: dict[str, Any] | None, settings: Settings) -> CleanInput:
    text, message_changed = clean_message(message, settings)
    clean, context_changed = None, False
    if context is not None:
        try:
            clean, context_changed = clean_context(
                context, max_bytes=settings.max_context_bytes, max_depth=settings.max_context_depth
            )
        except ContextRejected as exc:
            raise InputRejected(
                f"The context must be at most {settings.max_context_bytes} bytes and "
                f"{settings.max_context_depth} levels deep.",
                field="context",
            ) from exc
    changed = tuple(name for name, flag in (("message", message_changed), ("context", context_changed)) if flag)
    return CleanInput(text, clean, changed)


def hit_customer_limit(limits: RateLimits, audit: AuditLog, user: Principal, key: str, request_id: str) -> None:
    """Count one request against customer `key`'s limit; a rejection is audited, then raised (429)."""
    try:
        limits.hit_customer(key)
    except AppError as exc:
        audit.record(
            "rate_limited",
            actor=user.username,
            role=user.role.value,
            customer_id=key,
            code=exc.code,
            request_id=request_id,
        )
        exc.details.setdefault("customer_id", key)
        raise


def limit_unless_emergency(
    intake: Intake, user: Principal, customer_id: str, request_id: str
) -> ServiceUnavailable | None:
    """Count the message against the customer's limit. Over the limit is a 429 at once. A limit store that
    cannot be reached is returned, not raised: the caller refuses the message (503) unless it turns out to
    be an emergency, which is never refused for want of a counter (it is accepted, paged and audited)."""
    try:
        hit_customer_limit(intake.limits, intake.audit, user, customer_id, request_id)
    except ServiceUnavailable as exc:
        if exc.code != LIMIT_STORE_DOWN:
            raise
        return exc
    return None


def _fail_open_or_raise(
    intake: Intake,
    user: Principal,
    customer_id: str,
    down: ServiceUnavailable | None,
    request_id: str,
    *,
    accept_because: str | None,
) -> None:
    """With the limit store down: refuse (503) unless there is a reason to accept the message uncounted."""
    if down is None:
        return
    if accept_because is None:
        down.details.setdefault("customer_id", customer_id)
        raise down
    logger.warning(
        "rate-limit store unreachable: message of customer %s accepted uncounted (%s)", customer_id, accept_because
    )
    intake.audit.record(
        "rate_limit_failed_open",
        actor=user.username,
        role=user.role.value,
        customer_id=customer_id,
        reason=accept_because,
        request_id=request_id,
    )


def file_request(
    intake: Intake,
    user: Principal,
    request: NewRequest,
    request_id: str,
    *,
    wait: float | None = None,
    idempotency_key_id: int | None = None,
) -> Reply:
    """A first message: a new case, answered by the crew's job. `wait`: seconds to wait for the answer
    (default JOB_WAIT_SECONDS; 0 = answer at once with a pending reply). `idempotency_key_id`: the caller's
    Idempotency-Key row, bound to the case and job in the job's own transaction."""
    customer_id = acting_customer(user, request.customer_id)
    try:
        clean = sanitise_input(request.message, request.context, intake.settings)
        down = limit_unless_emergency(intake, user, customer_id, request_id)
    except AppError as exc:
        exc.details.setdefault("customer_id", customer_id)
        raise
    check_in_job = _check_in_job(intake, down, flagged=request.emergency)
    if check_in_job:
        decision, classification = decide(None, forced=request.route), None
    else:
        decision, classification = decide_message(
            intake, clean.message, forced=request.route, flagged=request.emergency
        )
    _fail_open_or_raise(
        intake, user, customer_id, down, request_id, accept_because="emergency" if decision.emergency else None
    )
    _audit_sanitised(intake.audit, user, customer_id, clean.changed_fields, request_id)
    requested = decision.route if decision.emergency else request.route
    language = intake.languages.detect(clean.message)
    job = Handoff(decision, classification, requested, (), False, check_in_job, "first_message")
    ticket = _ticket(intake)
    with intake.engine.begin() as conn:
        case = cases.insert_case(
            conn,
            customer_id=customer_id,
            account_id=user.account_id,
            requested_route=requested,
            emergency=decision.emergency,
            sanitised=bool(clean.changed_fields),
            context=clean.context,
            message=clean.message,
            language=language,
            queued=not decision.emergency,
        )
        # Any message but an emergency has its job stored with it: one transaction, so no crash leaves the
        # case without one. An emergency pages first, as its job says whether the page went out.
        job_id = (
            None
            if decision.emergency
            else _insert_job(conn, case, clean, job, ticket, idempotency_key_id, case_queued=True)
        )
    # Prompt-injection guard (desk/injection_guard.py): a flagged message is audited and marked on its case.
    injection_guard.record(intake, user, customer_id, case.id, clean.message, request_id)
    if job_id is None:
        job = replace(job, paged=intake.hook.on_emergency(case.id, customer_id=customer_id, auto=decision.auto))
        with intake.engine.begin() as conn:
            job_id = _insert_job(conn, case, clean, job, ticket, idempotency_key_id)
    return _run_job(intake, case, clean, job_id, ticket, wait=wait)


def follow_up(
    intake: Intake,
    user: Principal,
    case: cases.CaseThread,
    text: str,
    request_id: str,
    *,
    wait: float | None = None,
    idempotency_key_id: int | None = None,
) -> Reply:
    """A customer's next message on their case (`case` as the caller may see it). It counts against the
    customer's limit like a new request, may itself be an emergency, and is answered with the thread."""
    clean = sanitise_input(text, None, intake.settings)
    down = limit_unless_emergency(intake, user, case.customer_id, request_id)
    check_in_job = not case.with_people and _check_in_job(intake, down, flagged=False)
    if case.with_people or check_in_job:
        # People have the case (nothing to decide), or the job decides.
        decision, classification = decide(None), None
    else:
        decision, classification = decide_message(intake, clean.message, forced=Route.AUTO, flagged=False)
    # A message for the people who have the case is never refused for want of a counter, nor an emergency.
    accept_because = "for_people" if case.with_people else "emergency" if decision.emergency else None
    _fail_open_or_raise(intake, user, case.customer_id, down, request_id, accept_because=accept_because)
    _audit_sanitised(intake.audit, user, case.customer_id, clean.changed_fields, request_id)
    # No forced route on a follow-up: the crew routes on this message's classification, with the thread.
    route = decision.route if decision.emergency else Route.AUTO
    job = Handoff(decision, classification, route, case.history, False, check_in_job, "follow_up")
    ticket = _ticket(intake)
    for_crew = not case.with_people and not decision.emergency  # its job is stored with the message
    with intake.engine.begin() as conn:
        open_case = cases.insert_customer_message(conn, case, clean.message, sanitised=bool(clean.changed_fields))
        job_id = _insert_job(conn, open_case, clean, job, ticket, idempotency_key_id) if for_crew else None
    injection_guard.record(intake, user, case.customer_id, open_case.id, clean.message, request_id)  # guard
    if case.with_people:
        return Reply(open_case, None, sanitised_fields=clean.changed_fields)
    if job_id is None:
        cases.escalate(intake.engine, open_case, auto=decision.auto)
        paged = intake.hook.on_emergency(open_case.id, customer_id=open_case.customer_id, auto=decision.auto)
        job = replace(job, paged=paged)
        with intake.engine.begin() as conn:
            job_id = _insert_job(conn, open_case, clean, job, ticket, idempotency_key_id)
    return _run_job(intake, open_case, clean, job_id, ticket, wait=wait)


def _check_in_job(intake: Intake, down: ServiceUnavailable | None, *, flagged: bool) -> bool:
    """Leave the auto-emergency check (a classifier call) to the crew's job, so the API process runs no model,
    except when the limit store is down: then whether the message is an emergency decides whether it is
    accepted at all, before anything is stored."""
    return not flagged and down is None


@dataclass(frozen=True)
class Handoff:
    """What the intake decided for the crew's job."""

    decision: Decision
    classification: Classification | None
    route: Route
    history: tuple[ThreadMessage, ...]
    paged: bool
    check_emergency: bool
    kind: str

    def payload(self, clean: CleanInput) -> dict[str, Any]:
        """The job row's payload: everything the crew needs that is not on the case."""
        classification = self.classification
        return {
            "message": clean.message,
            "context": clean.context,
            "changed_fields": list(clean.changed_fields),
            "route": self.route.value,
            "decision": {
                "route": self.decision.route.value,
                "emergency": self.decision.emergency,
                "auto": self.decision.auto,
            },
            "classification": classification.model_dump(mode="json") if classification is not None else None,
            "check_emergency": self.check_emergency,
            "history": [m.model_dump(mode="json") for m in self.history],
            "paged": self.paged,
        }


@dataclass(frozen=True)
class JobTicket:
    """Who holds a new job until a runner claims it, and for how long."""

    owner: str | None
    lease: timedelta


def _ticket(intake: Intake) -> JobTicket:
    """Run in this request (no queue): held by an owner of its own for the whole time limit. Queued: as the
    queue says (a broker's jobs are held by nobody until the queue timeout)."""
    from desk.jobs import runner  # imported here: desk.jobs runs `answer_case` below, so it imports this module

    if intake.jobs is None:
        return JobTicket(runner.new_owner("inline"), timedelta(seconds=intake.settings.job_time_limit_seconds))
    return JobTicket(intake.jobs.queued_owner, intake.jobs.queued_lease)


def _insert_job(
    conn: Connection,
    case: cases.OpenCase,
    clean: CleanInput,
    job: Handoff,
    ticket: JobTicket,
    idempotency_key_id: int | None,
    *,
    case_queued: bool = False,
) -> str:
    """The crew's job for the case, on the caller's transaction (the Idempotency-Key row is bound to it)."""
    from desk.jobs import store

    return store.insert_job(
        conn,
        case_id=case.id,
        kind=job.kind,
        payload=job.payload(clean),
        owner=ticket.owner,
        lease=ticket.lease,
        idempotency_key_id=idempotency_key_id,
        case_queued=case_queued,
    )


def _run_job(
    intake: Intake, case: cases.OpenCase, clean: CleanInput, job_id: str, ticket: JobTicket, *, wait: float | None
) -> Reply:
    """Run the stored job here, or send it to the queue and wait up to `wait` seconds for its outcome."""
    from desk.jobs import runner
    from desk.jobs.events import JobEvent

    queue = intake.jobs
    wait = intake.settings.job_wait_seconds if wait is None else wait
    if queue is None:
        # `_ticket` always names an owner for a job run in this request.
        outcome = runner.run(runner.Runtime(intake, lambda event: None, cast(str, ticket.owner)), job_id)
    else:
        if case.follow_up:
            # Only a case that existed before this request can have a stream open on it; a new case's first
            # stream starts from its stored status, so its `queued` event would be published for nobody.
            queue.publish(JobEvent("queued", case.id, job_id))
        waiter = queue.expect(job_id) if wait > 0 else None
        queue.submit(job_id)
        outcome = waiter.wait(wait) if waiter is not None else None
    if outcome is None:
        if case.status not in cases.WITH_PEOPLE:
            case.status = CaseStatus.QUEUED
        return Reply(case, None, sanitised_fields=clean.changed_fields, job_id=job_id, pending=True)
    if not outcome.answered:
        raise CrewFailed(case_id=case.id, customer_id=case.customer_id)
    return Reply(open_case_of(outcome.case), outcome.reply, outcome.citations, clean.changed_fields, job_id=job_id)


def _audit_sanitised(
    audit: AuditLog, user: Principal, customer_id: str, fields: tuple[str, ...], request_id: str
) -> None:
    if fields:
        audit.record(
            "input_sanitised",
            actor=user.username,
            role=user.role.value,
            customer_id=customer_id,
            fields=list(fields),
            request_id=request_id,
        )


def decide_message(
    intake: Intake, message: str, *, forced: Route, flagged: bool
) -> tuple[Decision, Classification | None]:
    """The decision before the crew runs, so an emergency pages at once. The classification made for the
    auto-emergency rule is handed to the crew, which then does not classify the same message again."""
    rule = intake.settings.auto_emergency_rule()
    classification = None
    if not flagged and rule.enabled:
        try:
            classification = injection_guard.guarded(intake).classify(message)  # guard: never auto-pages
        except Exception:
            # Undecided is "no": the crew (which then classifies itself) records its own failure on the case
            # if the model is really down.
            logger.exception("auto-emergency check could not classify the message")
    return decide(classification, forced=forced, flagged=flagged, rule=rule), classification


def answer_case(
    intake: Intake,
    case: cases.OpenCase,
    clean: CleanInput,
    decision: Decision,
    classification: Classification | None,
    *,
    route: Route,
    history: tuple[ThreadMessage, ...],
    paged: bool,
    same_transaction: Callable[[Connection], None] | None = None,
) -> Reply:
    """The crew's answer to the case, recorded (`same_transaction`: more writes committed with it, the job's end)."""
    started = time.perf_counter()
    context = clean.context if clean.context is not None else case.context
    # The customer's profile (tier, plan, open cases), only where customer data may reach the models.
    context = customers.crew_context(intake.engine, intake.settings, case.customer_id, context, exclude_case_id=case.id)
    if case.language not in (None, "en"):
        # A hosted model answers in the customer's language; the local one writes English only.
        context = {**(context or {}), "customer_language": case.language}
    try:
        if scope.is_out_of_scope(classification, emergency=decision.emergency, route=route):
            assert classification is not None
            result = scope.out_of_scope_result(classification)
        else:
            result = injection_guard.guarded(intake, case.id).handle(  # guard: safe reply / hardened, canary
                clean.message,
                route=route,
                emergency=decision.emergency,
                history=history,
                context=context,
                classification=classification,
            )
        if scope.is_out_of_scope(result.classification, emergency=decision.emergency, route=route):
            # Whatever the crew wrote (the local model finds no article; a hosted one might answer trivia).
            result = scope.out_of_scope_result(result.classification)
    except Exception as exc:
        latency = (time.perf_counter() - started) * 1000
        code = exc.code if isinstance(exc, AppError) else "crew_failed" if isinstance(exc, CrewError) else "crew_error"
        logger.exception("crew failed on case %s (%s)", case.id, code)
        cases.record_failure(intake.engine, case, error_code=code, latency_ms=latency)
        if isinstance(exc, AppError) and not isinstance(exc, CrewFailed):
            exc.details["case_id"] = case.id
            exc.details.setdefault("customer_id", case.customer_id)
            raise
        raise CrewFailed(case_id=case.id, customer_id=case.customer_id) from exc
    latency = (time.perf_counter() - started) * 1000
    reply, citations, reply_changed = clean_result(result)
    citations = cited_only(reply, citations, intake.articles)
    out_of_scope = scope.is_out_of_scope(result.classification, emergency=decision.emergency, route=route)
    reason = None if decision.emergency or out_of_scope else _handoff_reason(intake, case, clean, result)
    english_only = intake.settings.uses_local_specialists and case.language not in (None, "en")
    if reason is None and english_only and intake.settings.non_english_to_human:
        reason = handoff.HandoffReason.LANGUAGE
    priority = Priority.URGENT if decision.emergency else result.classification.priority
    promise = handoff.Promise(
        queued_for_person=reason is not None,
        emergency=decision.emergency,
        paged=paged and bool(intake.settings.oncall_webhook_url),
        due_at=handoff.due_at(priority, utcnow()),
    )
    reply = handoff.with_notice(reply, promise)
    if english_only and not case.follow_up:
        notice = english_only_notice(case.language, queued=reason is not None)
        reply = f"{notice}\n\n{reply}" if notice else reply
    cases.record_answer(
        intake.engine,
        case,
        result,
        reply=reply,
        citations=citations,
        reply_sanitised=reply_changed,
        latency_ms=latency,
        needs_human=reason is not None,
        same_transaction=same_transaction,
    )
    if reason is not None:
        intake.audit.record(
            "case_needs_human",
            actor="desk",
            role="system",
            case_id=case.id,
            customer_id=case.customer_id,
            reason=reason,
        )
    return Reply(case, reply, citations, clean.changed_fields)


def _handoff_reason(intake: Intake, case: cases.OpenCase, clean: CleanInput, result: SupportResult) -> str | None:
    return handoff.handoff_reason(
        result,
        follow_up_text=clean.message if case.follow_up else None,
        unsure_below=intake.settings.complex_confidence_threshold,
        complex_route=result.agent_type is Route.COMPLEX,
    )


_CITED = re.compile(r"\[(KB-\d{3})\]")


def cited_only(reply: str, citations: list[dict[str, str]], articles: Articles) -> list[dict[str, str]]:
    """The citations the reply uses (cited inline as [KB-nnn]) with an excerpt and the article's address; a
    reply that cites nothing inline (a hosted model may not) keeps the crew's list."""
    cited = set(_CITED.findall(reply))
    used = [c for c in citations if c["article_id"] in cited] if cited else citations
    return [{**c, "excerpt": articles.excerpt(c["article_id"]), "url": f"/kb/articles/{c['article_id']}"} for c in used]


def clean_result(result: SupportResult) -> tuple[str, list[dict[str, str]], bool]:
    """Crew output is untrusted too (a model can echo markup): sanitise reply and citations."""
    reply = clean_text(result.reply)
    citations = [
        {"article_id": clean_text(c.article_id).text, "title": clean_text(c.title).text} for c in result.citations
    ]
    return reply.text, citations, reply.changed


def classify(intake: Intake, user: Principal, message: str, customer_id: str | None, request_id: str) -> Classification:
    """Classify a message for a caller (no case). Counts against the customer's (or account's) limit."""
    key = limit_key(user, customer_id)
    try:
        text, _changed = clean_message(message, intake.settings)
        hit_customer_limit(intake.limits, intake.audit, user, key, request_id)
    except AppError as exc:
        exc.details.setdefault("customer_id", key)
        raise
    return injection_guard.guarded(intake).classify(text)
