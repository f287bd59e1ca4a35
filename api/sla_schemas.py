"""Response and request bodies of SLA clocks, desk notes, customer profiles, the customers admin API and the
support metrics (issue 15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from desk.customers import LOCALE_PATTERN, PLAN_PATTERN, TIER_PATTERN
from desk.metrics import MetricRow


class SlaClockOut(BaseModel):
    clock: Literal["first_response", "next_response", "resolution"]
    cycle: int = Field(description="0 for first_response and resolution; 1, 2, ... for each next_response")
    state: Literal["running", "paused", "stopped"] = Field(
        description="paused: the desk waits on the customer; stopped: answered (response) or resolved"
    )
    started_at: datetime
    stopped_at: datetime | None
    target_seconds: float
    elapsed_seconds: float = Field(description="Counted time (working hours only when business_hours)")
    remaining_seconds: float = Field(description="target - elapsed: negative once breached")
    due_at: datetime | None = Field(description="When it breaches if nothing changes; null unless running")
    near_breach: bool
    breached: bool
    business_hours: bool


class SlaOut(BaseModel):
    tier: str = Field(description="The SLA tier applied (the customer's, or the policy's default)")
    priority: str = Field(description="The priority whose targets apply (medium while unclassified)")
    waiting_on_customer: bool
    clocks: list[SlaClockOut] = Field(description="first_response, the latest next_response (if any), resolution")


class CaseNoteOut(BaseModel):
    """A desk note in the thread, for staff only: a status change or an SLA event."""

    id: int
    kind: str = Field(description="`status`, `sla_near_breach` or `sla_breach`")
    at: datetime
    actor: str | None
    data: dict[str, Any]


class RecentCaseOut(BaseModel):
    id: str
    subject: str | None
    status: str
    created_at: datetime


class CustomerProfileOut(BaseModel):
    """The customer beside a case, for staff: their record (if the desk has one) and their other cases."""

    id: str
    known: bool = Field(description="False: no customer record (imported or set by an admin) yet")
    name: str | None
    tier: str | None
    plan: str | None
    locale: str | None
    created_at: datetime | None
    open_cases: int = Field(description="Their other cases not resolved")
    recent_cases: list[RecentCaseOut]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    tier: str | None = Field(default=None, pattern=TIER_PATTERN, description="A tier of the SLA policy")
    plan: str | None = Field(default=None, max_length=64, description=f"Empty clears it; else {PLAN_PATTERN}")
    locale: str | None = Field(default=None, max_length=16, description=f"Empty clears it; else {LOCALE_PATTERN}")


class CustomerOut(BaseModel):
    id: str
    name: str
    tier: str
    plan: str | None
    locale: str | None
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    total: int
    limit: int
    offset: int


# The desk's own row model is the response schema (desk/metrics.py).
MetricRowOut = MetricRow


class MetricsOut(BaseModel):
    since: datetime
    until: datetime
    overall: MetricRowOut
    by_route: list[MetricRowOut]
    by_priority: list[MetricRowOut]
    by_day: list[MetricRowOut]
