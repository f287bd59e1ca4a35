"""What changed on a case since a client last looked: new messages and the status. The event stream of
`GET /support/cases/{id}/events` polls this, so it sees writes from every API process and worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.models import Case, CaseMessage


@dataclass(frozen=True)
class NewMessage:
    id: int
    author: str
    author_name: str | None
    text: str
    citations: list[Any]
    created_at: datetime


@dataclass(frozen=True)
class CaseChanges:
    status: str
    messages: list[NewMessage]

    @property
    def last_message_id(self) -> int | None:
        return self.messages[-1].id if self.messages else None


def changes_since(session: Session, case_id: str, after_message_id: int) -> CaseChanges | None:
    """The case's status and its messages after `after_message_id` (None if the case is gone)."""
    status = session.scalar(select(Case.status).where(Case.id == case_id))
    if status is None:
        return None
    rows = session.scalars(
        select(CaseMessage)
        .where(CaseMessage.case_id == case_id, CaseMessage.id > after_message_id)
        .order_by(CaseMessage.id)
    ).all()
    messages = [NewMessage(m.id, m.author, m.author_name, m.text, list(m.citations), m.created_at) for m in rows]
    return CaseChanges(status, messages)
