"""What staff do with an escalated case (acknowledge, reply, set a status, hand back) and the read models
of the on-call page (queue, outbox). Routes stay thin; these commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.orm import Session

from desk import cases
from desk.accounts import Principal
from desk.errors import Conflict
from desk.models import Author, Case, CaseMessage, CaseStatus
from desk.oncall import outbox
from desk.oncall.models import OncallCase, Page, PageStatus
from desk.oncall.policy import priority_rank, response_time
from desk.sla.clock import CaseClocks, ClockReading, case_clocks
from desk.sla.history import histories, status_event
from desk.sla.policy import SlaPolicies, shipped_policies

WITH_PEOPLE = tuple(status.value for status in cases.WITH_PEOPLE)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class QueueEntry(BaseModel):
    """One case in the people's queue: its state, its first-response clock and its pages. A pydantic model:
    the API's queue item extends it (api/oncall_schemas.py)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: Literal["emergency", "needs_human"] = Field(description="Which queue: emergencies or needs a person")
    case_id: str
    subject: str | None = Field(default=None, description="The first line of the case's first message")
    status: str
    priority: str | None
    category: str | None
    customer_id: str
    emergency: bool
    auto_emergency: bool
    summary: str = Field(description="Priority, category and route only; never message text")
    created_at: datetime
    age_seconds: float
    first_response_due_at: datetime = Field(description="created_at + the KB-031 response time of the priority")
    time_to_breach_seconds: float | None = Field(description="Negative once breached; null once acknowledged")
    breached: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    repages: int
    pages_delivered: int
    pages_pending: int
    # The SLA clock closest to its deadline (desk/sla/clock.py), None while no clock runs (the desk waits on
    # the customer); the queue is sorted by it after emergencies.
    sla: ClockReading | None = None
    tier: str | None = Field(default=None, description="The SLA tier applied to the case")


def _ensure_state(session: Session, case: Case, now: datetime) -> None:
    """Cases escalated without a page (e.g. a staff action on an ordinary case) get paging state too."""
    if session.get(OncallCase, case.id) is None:
        session.add(OncallCase(case_id=case.id, auto=case.auto_emergency, created_at=now, updated_at=now))
        session.flush()


def _set(session: Session, case_id: str, *conditions: object, **values: object) -> bool:
    statement = update(OncallCase).where(OncallCase.case_id == case_id, *conditions).values(**values)  # type: ignore[arg-type]
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def _acknowledge(session: Session, case: Case, user: Principal, now: datetime) -> bool:
    """Stop paging and record who took it. True only for the first acknowledgement (a race has one winner)."""
    _ensure_state(session, case, now)
    first = _set(
        session,
        case.id,
        OncallCase.acknowledged_at.is_(None),
        acknowledged_at=now,
        acknowledged_by=user.username,
        ack_due_at=None,
        updated_at=now,
    )
    if first:
        outbox.cancel_pending(session, case.id)
    if case.status == CaseStatus.ESCALATED.value:
        case.status = CaseStatus.ACKNOWLEDGED.value
    return first


def acknowledge(session: Session, case: Case, user: Principal, now: datetime) -> bool:
    if case.status == CaseStatus.RESOLVED.value:
        raise Conflict("The case is resolved; there is nothing to acknowledge.", code="case_resolved")
    first = _acknowledge(session, case, user, now)
    case.updated_at = now
    session.commit()
    return first


def staff_reply(session: Session, case: Case, user: Principal, text: str, now: datetime) -> bool:
    """Add a person's reply to the thread (the customer sees it). A reply acknowledges an unacknowledged case."""
    case.messages.append(
        CaseMessage(author=Author.STAFF.value, author_name=user.username, text=text, citations=[], created_at=now)
    )
    case.last_author = Author.STAFF.value
    acknowledged = case.status in WITH_PEOPLE and _acknowledge(session, case, user, now)
    case.updated_at = now
    session.commit()
    return acknowledged


def set_status(session: Session, case: Case, status: str, user: Principal, now: datetime) -> str:
    """Returns the previous status."""
    previous = case.status
    if status == CaseStatus.RESOLVED.value:
        _ensure_state(session, case, now)
        _set(session, case.id, closed_at=now, ack_due_at=None, updated_at=now)
        outbox.cancel_pending(session, case.id)
    else:
        # Acknowledged or in progress: a person has it, so paging stops either way.
        _acknowledge(session, case, user, now)
    case.status = status
    case.updated_at = now
    if status != previous:
        session.add(status_event(case.id, status, now, actor=user.username))
    session.commit()
    return previous


def hand_back(session: Session, case: Case, user: Principal, now: datetime, *, note: str | None = None) -> None:
    """Return the case to the AI agents: they answer the customer's next message with the whole thread.
    This and resolving are the only ways out of the people's queues; a customer's follow-up never is."""
    if case.status not in WITH_PEOPLE:
        raise Conflict("Only a case that is with people can be handed back.", code="case_not_escalated")
    if note is not None:
        case.messages.append(
            CaseMessage(author=Author.STAFF.value, author_name=user.username, text=note, citations=[], created_at=now)
        )
        case.last_author = Author.STAFF.value
    _ensure_state(session, case, now)
    _set(session, case.id, handed_back_at=now, handed_back_by=user.username, ack_due_at=None, updated_at=now)
    outbox.cancel_pending(session, case.id)
    case.status = CaseStatus.OPEN.value
    case.updated_at = now
    session.add(status_event(case.id, case.status, now, actor=user.username))
    session.commit()


# --- read models ---------------------------------------------------------------------------------------------


def _queue_order(case: Case, reading: ClockReading | None) -> tuple[int, int, datetime, int, datetime, str]:
    """Emergencies first, then by SLA deadline (cases with no running clock after), priority, age."""
    due = reading.due_at if reading is not None and reading.due_at is not None else FAR_FUTURE
    return (
        0 if case.emergency else 1,
        0 if reading is not None else 1,
        due,
        priority_rank(case.priority),
        case.created_at,
        case.id,
    )


class QueueKind:
    EMERGENCY = "emergency"
    NEEDS_HUMAN = "needs_human"


def queue(
    session: Session,
    *,
    now: datetime,
    limit: int,
    offset: int,
    kind: str | None = None,
    policies: SlaPolicies | None = None,
) -> tuple[list[QueueEntry], int]:
    """Cases with people: emergencies first, then by time to SLA breach (desk/sla/), then priority, oldest
    first. `kind` picks one queue: the emergency queue (escalated and taken emergencies) or the needs-human
    queue. The clocks come from each case's history, so the whole queue is read to sort it (it holds the
    cases people have, not the desk's history)."""
    where: ColumnElement[bool] = Case.status.in_(WITH_PEOPLE)
    if kind == QueueKind.NEEDS_HUMAN:
        where = Case.status == CaseStatus.NEEDS_HUMAN.value
    elif kind == QueueKind.EMERGENCY:
        where = Case.status.in_([s for s in WITH_PEOPLE if s != CaseStatus.NEEDS_HUMAN.value])
    rows = session.execute(
        select(Case, OncallCase).outerjoin(OncallCase, OncallCase.case_id == Case.id).where(where)
    ).all()
    policies = policies or shipped_policies()
    found = histories(session, [case for case, _ in rows])
    clocks = {case.id: case_clocks(found[case.id], policies, now) for case, _ in rows}
    ordered = sorted(rows, key=lambda row: _queue_order(row[0], clocks[row[0].id].most_urgent()))
    window = ordered[offset : offset + limit]
    counts = _page_counts(session, [case.id for case, _ in window])
    entries = [_queue_item(case, state, counts.get(case.id, {}), now, clocks[case.id]) for case, state in window]
    return entries, len(rows)


def _page_counts(session: Session, case_ids: list[str]) -> dict[str, dict[str, int]]:
    if not case_ids:
        return {}
    query = (
        select(Page.case_id, Page.status, func.count())
        .where(Page.case_id.in_(case_ids))
        .group_by(Page.case_id, Page.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for case_id, status, count in session.execute(query):
        counts.setdefault(case_id, {})[status] = count
    return counts


def _queue_item(
    case: Case, state: OncallCase | None, pages: dict[str, int], now: datetime, clocks: CaseClocks
) -> QueueEntry:
    due = case.created_at + response_time(case.priority)
    acknowledged = state is not None and state.acknowledged_at is not None
    to_breach = (due - now).total_seconds()
    return QueueEntry(
        kind=QueueKind.NEEDS_HUMAN if case.status == CaseStatus.NEEDS_HUMAN.value else QueueKind.EMERGENCY,
        case_id=case.id,
        subject=case.subject,
        status=case.status,
        priority=case.priority,
        category=case.category,
        customer_id=case.customer_id,
        emergency=case.emergency,
        auto_emergency=case.auto_emergency,
        summary=(
            f"priority {case.priority or 'unset'}, category {case.category or 'not yet classified'}, "
            f"route {case.route or case.requested_route}"
        ),
        created_at=case.created_at,
        age_seconds=round((now - case.created_at).total_seconds(), 3),
        first_response_due_at=due,
        time_to_breach_seconds=None if acknowledged else round(to_breach, 3),
        breached=not acknowledged and to_breach < 0,
        acknowledged_by=state.acknowledged_by if state else None,
        acknowledged_at=state.acknowledged_at if state else None,
        repages=state.repages if state else 0,
        pages_delivered=pages.get(PageStatus.DELIVERED.value, 0),
        pages_pending=pages.get(PageStatus.PENDING.value, 0),
        sla=clocks.most_urgent(),
        tier=clocks.targets.tier,
    )


def pages(
    session: Session, *, case_id: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Page], int, dict[str, int]]:
    """The outbox, newest first: what was paged, what is still waiting, and why the last attempt failed."""
    where: list[ColumnElement[bool]] = []
    if case_id is not None:
        where.append(Page.case_id == case_id)
    if status is not None:
        where.append(Page.status == status)
    total = session.scalar(select(func.count()).select_from(Page).where(*where)) or 0
    rows = session.scalars(
        select(Page).where(*where).order_by(Page.created_at.desc(), Page.id).limit(limit).offset(offset)
    )
    counts = {s: n for s, n in session.execute(select(Page.status, func.count()).group_by(Page.status))}
    return list(rows), total, counts
