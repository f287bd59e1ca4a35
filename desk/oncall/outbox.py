"""Database operations on the page outbox and the escalation state. Every state change that two API
processes could race on is one guarded UPDATE (`... WHERE <expected state>`), and its row count says who won;
new attempt series are additionally protected by the unique idempotency key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, Update, exists, func, or_, select, update
from sqlalchemy.orm import Session

from desk.models import Case, CaseStatus
from desk.oncall.delivery import Outcome
from desk.oncall.models import OncallCase, Page, PageReason, PageStatus, PageTarget


def page_key(case_id: str, series: int, target: PageTarget) -> str:
    return f"{case_id}.{series}.{target.value}"


def _rowcount(session: Session, statement: Update) -> int:
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _active() -> tuple[ColumnElement[bool], ...]:
    """Conditions of a case that still needs paging: nobody acknowledged, resolved or took it back."""
    return (OncallCase.acknowledged_at.is_(None), OncallCase.closed_at.is_(None), OncallCase.handed_back_at.is_(None))


def new_page(case_id: str, *, series: int, target: PageTarget, reason: PageReason, now: datetime) -> Page:
    return Page(
        id=uuid.uuid4().hex,
        case_id=case_id,
        idempotency_key=page_key(case_id, series, target),
        target=target.value,
        series=series,
        reason=reason.value,
        status=PageStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def open_escalation(session: Session, case_id: str, *, auto: bool, now: datetime, max_repages: int = 0) -> Page:
    """The case's paging state and its first page, added to the session (the caller commits both at once)."""
    reason = PageReason.AUTO_EMERGENCY if auto else PageReason.EMERGENCY
    state = session.get(OncallCase, case_id)
    series = 0
    if state is None:
        session.add(OncallCase(case_id=case_id, auto=auto, created_at=now, updated_at=now))
        # Flush the state row first: its primary key is what makes a second opener (a racing reconcile) fail.
        session.flush()
    else:
        # Escalated before and handed back: a follow-up is an emergency again. One fresh page, in a series
        # above every earlier one (repages and the secondary included), so no idempotency key repeats; the
        # repage budget counts as spent, because repage series numbers would repeat the first round's.
        highest = session.scalar(select(func.max(Page.series)).where(Page.case_id == case_id)) or 0
        series = max(highest, max_repages + 1) + 1
        state.auto, state.updated_at, state.repages = auto, now, max_repages
        state.acknowledged_at = state.acknowledged_by = state.handed_back_at = state.handed_back_by = None
        state.closed_at = state.ack_due_at = None
    page = new_page(case_id, series=series, target=PageTarget.PRIMARY, reason=reason, now=now)
    session.add(page)
    return page


def due_page_ids(session: Session, *, targets: Sequence[PageTarget], now: datetime, limit: int) -> list[str]:
    if not targets or limit <= 0:
        return []
    query = (
        select(Page.id)
        .where(
            Page.status == PageStatus.PENDING.value,
            Page.next_attempt_at <= now,
            Page.target.in_([t.value for t in targets]),
            or_(Page.claimed_by.is_(None), Page.claim_expires_at < now),
        )
        .order_by(Page.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def next_due_at(session: Session, *, targets: Sequence[PageTarget]) -> datetime | None:
    """The soonest instant something in the outbox falls due: a pending page's next attempt, a claim on one
    lapsing, or an escalation's acknowledgement deadline (a re-page). One round trip; None when nothing waits."""
    pending = (Page.status == PageStatus.PENDING.value, Page.target.in_([t.value for t in targets]))
    attempt = select(func.min(Page.next_attempt_at)).where(*pending, Page.claimed_by.is_(None))
    lapse = select(func.min(Page.claim_expires_at)).where(*pending, Page.claimed_by.is_not(None))
    ack = select(func.min(OncallCase.ack_due_at)).where(OncallCase.ack_due_at.is_not(None), *_active())
    row = session.execute(select(attempt.scalar_subquery(), lapse.scalar_subquery(), ack.scalar_subquery())).one()
    found = [at for at in row if at is not None]
    return min(found) if found else None


def claim(session: Session, page_id: str, *, worker_id: str, now: datetime, lease: timedelta) -> bool:
    """Take one due page for this worker. Exactly one of several racing workers gets row count 1."""
    return (
        _rowcount(
            session,
            update(Page)
            .where(
                Page.id == page_id,
                Page.status == PageStatus.PENDING.value,
                Page.next_attempt_at <= now,
                or_(Page.claimed_by.is_(None), Page.claim_expires_at < now),
            )
            .values(claimed_by=worker_id, claim_expires_at=now + lease),
        )
        == 1
    )


def release_claims(session: Session, worker_id: str) -> int:
    """On a clean shutdown: hand this worker's unfinished pages back at once instead of after the lease."""
    return _rowcount(
        session,
        update(Page)
        .where(Page.claimed_by == worker_id, Page.status == PageStatus.PENDING.value)
        .values(claimed_by=None, claim_expires_at=None),
    )


def record_delivery(
    session: Session, page: Page, outcome: Outcome, *, worker_id: str, now: datetime, ack_timeout: timedelta
) -> bool:
    """Mark a page delivered and start the case's acknowledgement clock. False if the claim was lost."""
    won = (
        _rowcount(
            session,
            update(Page)
            .where(Page.id == page.id, Page.claimed_by == worker_id)
            .values(
                status=PageStatus.DELIVERED.value,
                delivered_at=now,
                last_attempt_at=now,
                attempts=Page.attempts + 1,
                last_status_code=outcome.status_code,
                last_error=None,
                claimed_by=None,
                claim_expires_at=None,
            ),
        )
        == 1
    )
    if won and page.target == PageTarget.PRIMARY.value:
        session.execute(
            update(OncallCase)
            .where(OncallCase.case_id == page.case_id, *_active())
            .values(ack_due_at=now + ack_timeout, updated_at=now)
        )
    return won


def record_failure(
    session: Session,
    page: Page,
    outcome: Outcome,
    *,
    worker_id: str,
    now: datetime,
    retry_in: timedelta,
    hold_until: datetime | None = None,
) -> bool:
    """Count a failed attempt and schedule the next. `hold_until`: the claim stays `worker_id`'s until then (a
    Celery task retrying itself), else it is released for whichever worker is free at the next attempt."""
    return (
        _rowcount(
            session,
            update(Page)
            .where(
                Page.id == page.id,
                Page.claimed_by == worker_id,
                Page.status == PageStatus.PENDING.value,
            )
            .values(
                attempts=Page.attempts + 1,
                next_attempt_at=now + retry_in,
                last_attempt_at=now,
                last_status_code=outcome.status_code,
                last_error=outcome.error,
                claimed_by=worker_id if hold_until is not None else None,
                claim_expires_at=hold_until,
            ),
        )
        == 1
    )


def take(session: Session, page_id: str, *, holder: str, now: datetime, lease: timedelta) -> bool:
    """A Celery task takes (or keeps) its page: dispatched to it, held for its retry, or free again because a
    claim lapsed. False when it is delivered, cancelled or another live holder has it."""
    return (
        _rowcount(
            session,
            update(Page)
            .where(
                Page.id == page_id,
                Page.status == PageStatus.PENDING.value,
                or_(Page.claimed_by == holder, Page.claimed_by.is_(None), Page.claim_expires_at < now),
            )
            .values(claimed_by=holder, claim_expires_at=now + lease),
        )
        == 1
    )


def cancel_pending(session: Session, case_id: str) -> int:
    """Stop paging a case somebody has taken (a page already in flight still completes)."""
    return _rowcount(
        session,
        update(Page)
        .where(Page.case_id == case_id, Page.status == PageStatus.PENDING.value)
        .values(status=PageStatus.CANCELLED.value),
    )


def due_for_repage(session: Session, now: datetime) -> list[OncallCase]:
    query = select(OncallCase).where(OncallCase.ack_due_at.is_not(None), OncallCase.ack_due_at <= now, *_active())
    return list(session.scalars(query))


def take_repage(session: Session, state: OncallCase, *, now: datetime) -> bool:
    """Count one more repage for the case, if nobody else did since `state` was read."""
    return (
        _rowcount(
            session,
            update(OncallCase)
            .where(
                OncallCase.case_id == state.case_id,
                OncallCase.repages == state.repages,
                OncallCase.ack_due_at.is_not(None),
                OncallCase.ack_due_at <= now,
                *_active(),
            )
            .values(repages=state.repages + 1, ack_due_at=None, updated_at=now),
        )
        == 1
    )


def take_secondary(session: Session, case_id: str, *, now: datetime) -> bool:
    return (
        _rowcount(
            session,
            update(OncallCase)
            .where(
                OncallCase.case_id == case_id,
                OncallCase.secondary_paged.is_(False),
                *_active(),
            )
            .values(secondary_paged=True, ack_due_at=None, updated_at=now),
        )
        == 1
    )


def stop_clock(session: Session, case_id: str, *, now: datetime) -> bool:
    """Nothing is left to page (repages used up, no secondary): the case waits in the queue."""
    return (
        _rowcount(
            session,
            update(OncallCase)
            .where(
                OncallCase.case_id == case_id,
                OncallCase.ack_due_at.is_not(None),
            )
            .values(ack_due_at=None, updated_at=now),
        )
        == 1
    )


def stalled_primary_cases(session: Session, *, now: datetime, stalled_for: timedelta) -> list[str]:
    """Active cases whose primary page has not got through for `stalled_for`: time to try the secondary."""
    query = (
        select(Page.case_id)
        .join(OncallCase, OncallCase.case_id == Page.case_id)
        .where(
            Page.status == PageStatus.PENDING.value,
            Page.target == PageTarget.PRIMARY.value,
            Page.created_at <= now - stalled_for,
            OncallCase.secondary_paged.is_(False),
            *_active(),
        )
        .distinct()
    )
    return list(session.scalars(query))


def unpaged_emergencies(session: Session, *, now: datetime, grace: timedelta, window: timedelta) -> list[Case]:
    """Emergency cases stored without paging state (the hook's write failed, or the process died between the
    case's commit and the outbox's). `grace` leaves the normal path time to write it first."""
    query = select(Case).where(
        Case.emergency.is_(True),
        Case.status == CaseStatus.ESCALATED.value,
        Case.created_at <= now - grace,
        Case.created_at >= now - window,
        ~exists().where(OncallCase.case_id == Case.id),
    )
    return list(session.scalars(query))
