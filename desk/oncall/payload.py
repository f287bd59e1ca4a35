"""The JSON body of a page. Identifiers, codes and a fixed-form summary only: never message text, names or
contact details, because pages end up in chat rooms and paging services outside the desk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from desk.models import Case
from desk.oncall.models import Page, PageReason

_REASONS = {
    PageReason.EMERGENCY: "EMERGENCY flagged by the customer",
    PageReason.AUTO_EMERGENCY: "Auto-emergency (classified as an urgent escalation)",
    PageReason.REPAGE: "Not acknowledged yet: paging again",
    PageReason.SECONDARY: "Not acknowledged on the primary rota: paging the secondary",
    PageReason.SLA: "SLA deadline near: a person must respond",
}


def case_link(public_base_url: str, case_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/oncall?case={case_id}"


def summary(case: Case, page: Page) -> str:
    what = _REASONS.get(PageReason(page.reason), "Escalation")
    category = case.category or "not yet classified"
    return (
        f"{what}: case {case.id}, priority {case.priority or 'urgent'}, category {category}, "
        f"route {case.route or case.requested_route}, customer {case.customer_id}."
    )


def build_payload(case: Case, page: Page, *, public_base_url: str, sent_at: datetime) -> dict[str, Any]:
    text = summary(case, page)
    link = case_link(public_base_url, case.id)
    return {
        "event": "oncall.page",
        "page_id": page.id,
        "idempotency_key": page.idempotency_key,
        "case_id": case.id,
        "customer_id": case.customer_id,
        "priority": case.priority or "urgent",
        "category": case.category,
        "route": case.route or case.requested_route,
        "status": case.status,
        "emergency": case.emergency,
        "auto_emergency": case.auto_emergency,
        "reason": page.reason,
        "target": page.target,
        "series": page.series,
        "attempt": page.attempts + 1,
        "summary": text,
        "link": link,
        "ack_path": f"/support/cases/{case.id}/ack",
        "case_created_at": case.created_at.isoformat(),
        "sent_at": sent_at.isoformat(),
        # Slack, Mattermost and Teams-style incoming webhooks show `text`; other receivers ignore it.
        "text": f"{text} {link}",
    }
