"""The on-call tables: the page outbox and each escalated case's paging state.

They live on the API's `Base` so one migration history (and `tests/api/test_migrations.py`) covers them;
revision 0002 creates them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from desk.models import Base, utcnow


class PageTarget(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class PageStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or for a webhook to be configured)
    DELIVERED = "delivered"  # the receiver answered 2xx
    CANCELLED = "cancelled"  # the case was acknowledged, resolved or handed back before delivery


class PageReason(StrEnum):
    EMERGENCY = "emergency"
    AUTO_EMERGENCY = "auto_emergency"
    REPAGE = "repage"  # not acknowledged within the ack timeout
    SECONDARY = "secondary"  # repages exhausted, or the primary receiver unreachable for an ack timeout
    SLA = "sla_near_breach"  # an SLA clock of a case with people is near its deadline (desk/sla/sweeper.py)


class Page(Base):
    """One attempt series: one page to one target, retried until delivered. Retries keep the idempotency key."""

    __tablename__ = "oncall_pages"
    __table_args__ = (Index("ix_oncall_pages_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Deterministic (`<case>.<series>.<target>`): a second process creating the same series hits the
    # unique constraint instead of paging twice, and the receiver de-duplicates retries by it.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    target: Mapped[str] = mapped_column(String(10))
    series: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=PageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    claim_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    # A fixed, short reason (e.g. "connect_error", "http_503"); never a response body or the URL.
    last_error: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OncallCase(Base):
    """Paging state of one escalated case: who acknowledged, how often it was re-paged, when it is due again."""

    __tablename__ = "oncall_cases"
    __table_args__ = (Index("ix_oncall_cases_ack_due", "ack_due_at"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    repages: Mapped[int] = mapped_column(Integer, default=0)
    secondary_paged: Mapped[bool] = mapped_column(Boolean, default=False)
    # When an unacknowledged case is paged again. Set when a primary page is delivered (the clock starts
    # when someone could have seen it); cleared by ack, resolve and hand-back.
    ack_due_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(150), default=None)
    handed_back_at: Mapped[datetime | None] = mapped_column(default=None)
    handed_back_by: Mapped[str | None] = mapped_column(String(150), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
