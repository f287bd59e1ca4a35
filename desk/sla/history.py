"""A case's history as the clocks read it, from the database: its messages (author and time only, never the
text), its status changes (`case_events` of kind "status") and its customer's tier.

Status changes are written where they matter to the clocks: the crew's answer (`cases.record_answer`), an
emergency follow-up (`cases.escalate`), staff setting a status or handing back (`oncall.actions`) and the
SLA sweeper's hand-over. Any other change (a job given up, an acknowledgement) is still seen: when the case's
current status differs from the last one recorded, it counts from the case's `updated_at`. A case created as
an emergency starts `escalated`, any other `open`, as `cases.insert_case` stores them (an emergency whose first
recorded status is not `escalated` became one later, by `cases.escalate`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from desk.models import Case, CaseEvent, CaseMessage, CaseStatus, Customer
from desk.sla.clock import CaseHistory, Fact, FactKind

STATUS_EVENT = "status"
EVENTS = cast(Table, CaseEvent.__table__)
INSERT_EVENT = insert(EVENTS)
_CHUNK = 500


def status_row(case_id: str, status: str, at: datetime, *, actor: str | None = None, **data: Any) -> dict[str, Any]:
    """The `case_events` row of one status change, for a Core insert beside the case's own update."""
    return {
        "case_id": case_id,
        "kind": STATUS_EVENT,
        "at": at,
        "key": None,
        "actor": actor,
        "data": {"to": status, **data},
    }


def record_status(conn: Connection, case_id: str, status: str, at: datetime, *, actor: str | None = None) -> None:
    conn.execute(INSERT_EVENT, status_row(case_id, status, at, actor=actor))


def status_event(case_id: str, status: str, at: datetime, *, actor: str | None = None, **data: Any) -> CaseEvent:
    """The same row as an ORM object, for code that writes through a Session."""
    return CaseEvent(case_id=case_id, kind=STATUS_EVENT, at=at, key=None, actor=actor, data={"to": status, **data})


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """`values` in slices small enough for one `IN (...)` list."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def histories(session: Session, cases: Sequence[Case]) -> dict[str, CaseHistory]:
    """The history of each case (three queries per 500 cases, whatever the number of messages)."""
    ids = [c.id for c in cases]
    messages: dict[str, list[Fact]] = defaultdict(list)
    marks: dict[str, list[Fact]] = defaultdict(list)
    tiers: dict[str, str] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(CaseMessage.case_id, CaseMessage.author, CaseMessage.created_at)
            .where(CaseMessage.case_id.in_(chunk))
            .order_by(CaseMessage.id)
        )
        for case_id, author, at in rows:
            messages[case_id].append(Fact(at, author))
        events = session.execute(
            select(CaseEvent.case_id, CaseEvent.at, CaseEvent.data)
            .where(CaseEvent.case_id.in_(chunk), CaseEvent.kind == STATUS_EVENT)
            .order_by(CaseEvent.id)
        )
        for case_id, at, data in events:
            marks[case_id].append(Fact(at, FactKind.STATUS, str((data or {}).get("to") or "")))
    customer_ids = sorted({c.customer_id for c in cases})
    for chunk in chunks(customer_ids):
        tiers.update(
            {
                cid: tier
                for cid, tier in session.execute(select(Customer.id, Customer.tier).where(Customer.id.in_(chunk)))
            }
        )
    return {c.id: history_of(c, messages[c.id], marks[c.id], tiers.get(c.customer_id)) for c in cases}


def history_of(case: Case, messages: Sequence[Fact], marks: Sequence[Fact], tier: str | None) -> CaseHistory:
    ordered = sorted(marks, key=lambda m: m.at)
    # An emergency from the first message is answered `escalated`; one that became an emergency later was
    # answered (some other status) first.
    escalated_first = not ordered or ordered[0].status == CaseStatus.ESCALATED.value
    initial = CaseStatus.ESCALATED.value if case.emergency and escalated_first else CaseStatus.OPEN.value
    facts = [*messages, *marks]
    last_status = ordered[-1].status if ordered else initial
    if case.status != last_status:
        # A change nobody recorded (a job given up, an acknowledgement): it happened by the last update.
        latest = max([case.updated_at, *(f.at for f in facts)])
        facts.append(Fact(latest, FactKind.STATUS, case.status))
    return CaseHistory(case.id, case.created_at, initial, tuple(facts), case.priority, tier)
