"""What changed on a case since a client last looked: new messages, the status and (for staff) new SLA notes.
The event stream of `GET /support/cases/{id}/events` polls this, so it sees writes from every API process
and worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.models import Case, CaseEvent, CaseMessage

SLA_NOTE_KINDS = ("sla_near_breach", "sla_breach")


@dataclass(frozen=True)
class NewMessage:
    id: int
    author: str
    author_name: str | None
    text: str
    citations: list[Any]
    created_at: datetime


@dataclass(frozen=True)
class SlaNote:
    id: int
    kind: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class CaseChanges:
    status: str
    messages: list[NewMessage]
    notes: list[SlaNote] = field(default_factory=list)

    @property
    def last_note_id(self) -> int | None:
        return self.notes[-1].id if self.notes else None

    @property
    def last_message_id(self) -> int | None:
        return self.messages[-1].id if self.messages else None


def changes_since(
    session: Session, case_id: str, after_message_id: int, *, sla_notes_after: int | None = None
) -> CaseChanges | None:
    """The case's status and its messages after `after_message_id` (None if the case is gone); with
    `sla_notes_after` (staff only: the customer does not see them) also its SLA notes after that id."""
    status = session.scalar(select(Case.status).where(Case.id == case_id))
    if status is None:
        return None
    rows = session.scalars(
        select(CaseMessage)
        .where(CaseMessage.case_id == case_id, CaseMessage.id > after_message_id)
        .order_by(CaseMessage.id)
    ).all()
    messages = [NewMessage(m.id, m.author, m.author_name, m.text, list(m.citations), m.created_at) for m in rows]
    notes: list[SlaNote] = []
    if sla_notes_after is not None:
        found = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.id > sla_notes_after, CaseEvent.kind.in_(SLA_NOTE_KINDS))
            .order_by(CaseEvent.id)
        )
        notes = [SlaNote(n.id, n.kind, n.at, dict(n.data or {})) for n in found]
    return CaseChanges(status, messages, notes)
