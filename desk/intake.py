"""One support request, end to end: who it acts for, sanitising, the rate limit, the case, the crew."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from api.context import RequestContext
from api.schemas import CitationOut, SupportRequestIn, SupportResponse
from crew.models import Category, Priority, Route, SupportCrew, SupportResult
from desk import cases
from desk.accounts import Principal
from desk.audit import AuditLog
from desk.errors import AppError, CrewFailed, InputRejected, PermissionDenied
from desk.escalation import EscalationHook
from desk.models import Role
from desk.oncall.auto_emergency import detect_auto_emergency
from desk.ratelimit import RateLimits
from desk.settings import Settings
from security.sanitize import ContextRejected, clean_context, clean_text

logger = logging.getLogger(__name__)


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


def sanitise_request(body: SupportRequestIn, settings: Settings) -> CleanInput:
    message, message_changed = clean_message(body.message, settings)
    context, context_changed = None, False
    if body.context is not None:
        try:
            context, context_changed = clean_context(
                body.context, max_bytes=settings.max_context_bytes, max_depth=settings.max_context_depth
            )
        except ContextRejected as exc:
            raise InputRejected(
                f"The context must be at most {settings.max_context_bytes} bytes and "
                f"{settings.max_context_depth} levels deep.",
                field="context",
            ) from exc
    changed = tuple(name for name, flag in (("message", message_changed), ("context", context_changed)) if flag)
    return CleanInput(message, context, changed)


def _clean_result(result: SupportResult) -> tuple[str, list[dict[str, str]], bool]:
    """Crew output is untrusted too (a model can echo markup): sanitise reply and citations."""
    reply = clean_text(result.reply)
    citations = [
        {"article_id": clean_text(c.article_id).text, "title": clean_text(c.title).text} for c in result.citations
    ]
    return reply.text, citations, reply.changed


@dataclass(frozen=True)
class SupportCall:
    """What the support endpoints hand to `run_support_request` (all per-app objects, no globals)."""

    engine: Engine
    settings: Settings
    crew: SupportCrew
    limits: RateLimits
    audit: AuditLog
    ctx: RequestContext
    hook: EscalationHook


def run_support_request(call: SupportCall, user: Principal, body: SupportRequestIn, route: Route) -> SupportResponse:
    ctx = call.ctx
    customer_id = acting_customer(user, body.customer_id)
    ctx.customer_id = customer_id
    clean = sanitise_request(body, call.settings)
    effective_route = Route.ESCALATION if body.emergency else route
    ctx.route = effective_route.value
    enforce_limit(call, customer_id)
    if clean.changed_fields:
        call.audit.record(
            "input_sanitised",
            actor=user.username,
            role=user.role.value,
            customer_id=customer_id,
            fields=list(clean.changed_fields),
            request_id=ctx.request_id,
        )
    # Rated an urgent escalation by the classifier: handled as an emergency too (desk/oncall/auto_emergency.py).
    check = None if body.emergency else detect_auto_emergency(call.crew, clean.message, call.settings)
    auto = check is not None and check.emergency
    emergency = body.emergency or auto
    if auto:
        effective_route = Route.ESCALATION
        ctx.route = effective_route.value

    case = cases.open_case(
        call.engine,
        customer_id=customer_id,
        account_id=user.account_id,
        requested_route=effective_route,
        emergency=emergency,
        sanitised=bool(clean.changed_fields),
        context=clean.context,
        message=clean.message,
    )
    ctx.case_id = case.id
    if emergency:
        call.hook.on_emergency(case.id, customer_id=customer_id, auto=auto)

    started = time.perf_counter()
    try:
        # The check's classification is reused: the crew does not classify the same message twice.
        result = call.crew.handle(
            clean.message,
            route=effective_route,
            emergency=emergency,
            context=clean.context,
            classification=check.classification if check is not None else None,
        )
    except Exception as exc:
        latency = (time.perf_counter() - started) * 1000
        code = exc.code if isinstance(exc, AppError) else "crew_error"
        logger.exception("crew failed on case %s (%s)", case.id, code)
        cases.record_failure(call.engine, case, error_code=code, latency_ms=latency)
        if isinstance(exc, AppError) and not isinstance(exc, CrewFailed):
            exc.details["case_id"] = case.id
            raise
        raise CrewFailed(case_id=case.id) from exc
    latency = (time.perf_counter() - started) * 1000
    reply, citations, reply_changed = _clean_result(result)
    cases.record_answer(
        call.engine, case, result, reply=reply, citations=citations, reply_sanitised=reply_changed, latency_ms=latency
    )
    return to_response(case, reply, citations)


def enforce_limit(call: SupportCall, key: str) -> None:
    hit_customer_limit(call.limits, call.audit, call.ctx, key)


def hit_customer_limit(limits: RateLimits, audit: AuditLog, ctx: RequestContext, key: str) -> None:
    """Count one request against customer `key`'s limit; a rejection is audited, then raised (429)."""
    try:
        limits.hit_customer(key)
    except AppError as exc:
        audit.record(
            "rate_limited", actor=ctx.actor, role=ctx.role, customer_id=key, code=exc.code, request_id=ctx.request_id
        )
        raise


def to_response(case: cases.OpenCase, reply: str, citations: list[dict[str, str]]) -> SupportResponse:
    return SupportResponse(
        response=reply,
        agent_type=case.route or case.requested_route,
        timestamp=case.updated_at,
        case_id=case.id,
        category=case.category or Category.GENERAL,
        priority=case.priority or Priority.MEDIUM,
        confidence=case.confidence or 0.0,
        citations=[CitationOut(**c) for c in citations],
        status=case.status.value,
        degraded=case.degraded,
    )
