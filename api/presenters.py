"""Response schemas built from what the use cases return: the one place that turns the desk's cases and
replies into the API's JSON shapes."""

from __future__ import annotations

from api.schemas import CaseOut, CaseSummary, CitationOut, MessageOut, SupportResponse
from crew.models import Category, Priority
from desk import intake
from desk.models import Case


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


def case_out(case: Case) -> CaseOut:
    messages = [
        MessageOut(
            author=m.author, text=m.text, citations=[CitationOut(**c) for c in m.citations], created_at=m.created_at
        )
        for m in case.messages
    ]
    return CaseOut(**summary(case).model_dump(), messages=messages)


def support_response(reply: intake.Reply) -> SupportResponse:
    case = reply.case
    return SupportResponse(
        response=reply.reply or "",
        agent_type=case.route or case.requested_route,
        timestamp=case.updated_at,
        case_id=case.id,
        category=case.category or Category.GENERAL,
        priority=case.priority or Priority.MEDIUM,
        confidence=case.confidence or 0.0,
        citations=[CitationOut(**c) for c in reply.citations],
        status=case.status.value,
        degraded=case.degraded,
    )
