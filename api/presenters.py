"""Response schemas built from what the use cases return: the one place that turns the desk's cases and
replies into the API's JSON shapes."""

from __future__ import annotations

from dataclasses import asdict

from api.oncall_schemas import QueueItem
from api.schemas import ArticleOut, CaseOut, CaseSummary, CitationOut, MessageOut, SupportResponse
from api.sla_schemas import CaseNoteOut, CustomerProfileOut, RecentCaseOut, SlaClockOut, SlaOut
from crew.models import Category, Priority
from desk import intake
from desk.articles import Article
from desk.customers import CustomerProfile
from desk.models import Case, CaseEvent
from desk.oncall.actions import QueueEntry
from desk.sla.clock import CaseClocks, ClockReading
from desk.staff_view import StaffView


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
        subject=case.subject,
        language=case.language,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def case_out(case: Case, view: StaffView | None = None) -> CaseOut:
    """The case and its thread; with `view` (staff only) also the customer, the SLA clocks and desk notes."""
    messages = [
        MessageOut(
            author=m.author,
            author_name=m.author_name,
            text=m.text,
            citations=[CitationOut(**c) for c in m.citations],
            created_at=m.created_at,
        )
        for m in case.messages
    ]
    last = messages[-1].created_at if messages else None
    out = CaseOut(**{**summary(case).model_dump(), "last_message_at": last}, messages=messages)
    if view is not None:
        out.customer = customer_profile_out(view.profile)
        out.sla = sla_out(view.clocks)
        out.notes = [note_out(n) for n in view.notes]
    return out


def queue_item(entry: QueueEntry) -> QueueItem:
    fields = {name: getattr(entry, name) for name in QueueEntry.model_fields if name != "sla"}
    return QueueItem(**fields, sla=clock_out(entry.sla) if entry.sla is not None else None)


def clock_out(reading: ClockReading) -> SlaClockOut:
    return SlaClockOut.model_validate(reading.as_dict())


def sla_out(clocks: CaseClocks) -> SlaOut:
    return SlaOut(
        tier=clocks.targets.tier,
        priority=clocks.targets.priority,
        waiting_on_customer=clocks.waiting_on_customer,
        clocks=[clock_out(r) for r in clocks.current()],
    )


def note_out(note: CaseEvent) -> CaseNoteOut:
    return CaseNoteOut(id=note.id, kind=note.kind, at=note.at, actor=note.actor, data=dict(note.data or {}))


def customer_profile_out(profile: CustomerProfile) -> CustomerProfileOut:
    return CustomerProfileOut(
        **{k: v for k, v in asdict(profile).items() if k != "recent_cases"},
        recent_cases=[RecentCaseOut(**asdict(c)) for c in profile.recent_cases],
    )


def article_out(article: Article) -> ArticleOut:
    return ArticleOut(
        article_id=article.article_id,
        title=article.title,
        category=article.category,
        excerpt=article.excerpt,
        body=article.body,
        url=f"/kb/articles/{article.article_id}",
    )


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
