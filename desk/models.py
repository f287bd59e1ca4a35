"""Database tables (SQLAlchemy 2, typed declarative). The schema itself is owned by the Alembic migrations
in `desk/migrations/`; keep both in step (`tests/api/test_migrations.py` compares them)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Role(StrEnum):
    CUSTOMER = "customer"
    INTEGRATOR = "integrator"
    STAFF = "staff"
    ADMIN = "admin"


class CaseStatus(StrEnum):
    OPEN = "open"
    # A job for the crew is waiting for a worker / running (desk/jobs/); the crew's answer replaces it.
    QUEUED = "queued"
    RUNNING = "running"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    # The crew answered but a person must take over (desk/handoff.py says when); only staff take it out.
    NEEDS_HUMAN = "needs_human"
    RESOLVED = "resolved"
    FAILED = "failed"


class Author(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    STAFF = "staff"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite forgets the zone; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Tokens carry the version they were issued under (`ver`); disabling an account bumps it, so its tokens
    # stay dead even after the account is enabled again.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_customer_created", "customer_id", "created_at"),
        Index("ix_cases_status_priority", "status", "priority"),
        # The SLA sweep's second question: which answered or resolved cases has the customer written on since.
        Index("ix_cases_status_last_author", "status", "last_author"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), default=None, index=True)
    requested_route: Mapped[str] = mapped_column(String(20))
    # The route the crew actually took (the response's `agent_type`); empty until the crew answered.
    route: Mapped[str | None] = mapped_column(String(20), default=None)
    category: Mapped[str | None] = mapped_column(String(20), default=None)
    priority: Mapped[str | None] = mapped_column(String(10), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.OPEN)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the desk itself (not the caller) decided the case is an emergency (on-call paging).
    auto_emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    sanitised: Mapped[bool] = mapped_column(Boolean, default=False)
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    crew_latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    context: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Prompt-injection guard (desk/injection_guard.py): a message of the case was flagged; the highest score.
    injection_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    injection_score: Mapped[float | None] = mapped_column(Float, default=None)
    # The first line of the first message, for case lists (never used for decisions).
    subject: Mapped[str | None] = mapped_column(String(120), default=None)
    # Who wrote the case's newest message (customer, agent, staff), kept by every writer of a message
    # (desk/cases.py, desk/oncall/actions.py): the SLA sweep finds the cases it owes by it without reading
    # every case's messages.
    last_author: Mapped[str | None] = mapped_column(String(20), default=None)
    # ISO 639-1 code of the first message's language (desk/language.py), None when unsure.
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", order_by="CaseMessage.id", cascade="all, delete-orphan"
    )


class CaseMessage(Base):
    __tablename__ = "case_messages"
    # (case_id, id), not case_id alone: a case's messages in order (its thread, its newest) come from the index.
    __table_args__ = (Index("ix_case_messages_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    # The staff member's username on a staff message; None for the customer and the desk.
    author_name: Mapped[str | None] = mapped_column(String(150), default=None)
    citations: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="messages")


class AuditEvent(Base):
    """A copy of each audit-log line, for queries (`/support/status`) and to detect a truncated file."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_event_ts", "event", "ts"),
        Index("ix_audit_events_chain_seq", "chain", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Which audit file (one per machine, AUDIT_CHAIN) the row copies: each file is a chain of its own.
    chain: Mapped[str] = mapped_column(String(64), default="", server_default="")
    seq: Mapped[int] = mapped_column(Integer, index=True)
    ts: Mapped[datetime] = mapped_column()
    event: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(150), default=None)
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    case_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Customer(Base):
    """What the desk knows of a customer (`support-desk customers import`, `/admin/customers`). Cases refer to
    it by `customer_id` without a foreign key: a case may come before its customer's record."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Picks the SLA policy (desk/sla/policies.yaml); an unknown tier gets the policy file's default tier.
    tier: Mapped[str] = mapped_column(String(32), default="standard", index=True)
    plan: Mapped[str | None] = mapped_column(String(64), default=None)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseEvent(Base):
    """A desk note in a case's thread that the customer does not see: status changes the SLA clocks read
    (`kind` "status") and SLA events ("sla_near_breach", "sla_breach"). `key` makes an event that several
    processes could write (one per clock, cycle and threshold) unique."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column()
    key: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    actor: Mapped[str | None] = mapped_column(String(150), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
