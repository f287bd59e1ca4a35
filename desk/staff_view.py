"""What staff see beside a case's thread (`GET /support/cases/{id}` for staff): its SLA clocks, the
customer's profile and the desk's notes (status changes and SLA events), none of which the customer sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.customers import CustomerProfile, staff_profile
from desk.models import Case, CaseEvent
from desk.sla.clock import CaseClocks, case_clocks
from desk.sla.history import histories
from desk.sla.policy import SlaPolicies


@dataclass(frozen=True)
class StaffView:
    clocks: CaseClocks
    profile: CustomerProfile
    notes: list[CaseEvent]


def case_notes(
    session: Session, case_id: str, *, after_id: int = 0, kinds: tuple[str, ...] | None = None
) -> list[CaseEvent]:
    """The case's desk notes after `after_id`, oldest first."""
    query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.id > after_id)
    if kinds is not None:
        query = query.where(CaseEvent.kind.in_(kinds))
    return list(session.scalars(query.order_by(CaseEvent.id)))


def staff_view(session: Session, case: Case, policies: SlaPolicies, now: datetime) -> StaffView:
    history = histories(session, [case])[case.id]
    return StaffView(
        clocks=case_clocks(history, policies, now),
        profile=staff_profile(session, case.customer_id, exclude_case_id=case.id),
        notes=case_notes(session, case.id),
    )
