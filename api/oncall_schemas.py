"""Request and response bodies of the on-call endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import TEXT_RULE, VISIBLE_TEXT
from api.sla_schemas import SlaClockOut
from desk.oncall.actions import QueueEntry


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description=TEXT_RULE, json_schema_extra={"pattern": VISIBLE_TEXT})


class HandBackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(
        default=None, min_length=1, description="What staff did or found; added to the thread for the customer"
    )


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["acknowledged", "in_progress", "resolved"]


class QueueItem(QueueEntry):
    """The desk's queue entry, with its SLA clock as the API shows clocks."""

    sla: SlaClockOut | None = Field(  # type: ignore[assignment]
        default=None,
        description="The SLA clock closest to its deadline (the queue's order after emergencies); null while the "
        "desk waits on the customer",
    )


class QueueOut(BaseModel):
    items: list[QueueItem]
    total: int
    limit: int
    offset: int
    generated_at: datetime


class PageOut(BaseModel):
    id: str
    case_id: str
    idempotency_key: str
    target: str
    series: int
    reason: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


class PagesOut(BaseModel):
    items: list[PageOut]
    total: int
    limit: int
    offset: int
    counts: dict[str, int] = Field(description="All pages by status")
    webhook_configured: bool
    secondary_webhook_configured: bool
