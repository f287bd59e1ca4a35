"""Request and response bodies of the on-call endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import TEXT_RULE, VISIBLE_TEXT
from api.sla_schemas import SlaClockOut


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


class QueueItem(BaseModel):
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
    sla: SlaClockOut | None = Field(
        default=None,
        description="The SLA clock closest to its deadline (the queue's order after emergencies); null while the "
        "desk waits on the customer",
    )
    tier: str | None = Field(default=None, description="The SLA tier applied to the case")


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
