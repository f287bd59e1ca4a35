"""The job tables: one row per crew run a message needs (`jobs`), and the `Idempotency-Key`s callers sent
(`idempotency_keys`). On the API's `Base` so one migration history covers them; revision 0004 creates them.

A job row is the source of truth for a crew run, whatever carries it (the embedded pool or a Celery broker):
the broker's message only says "run job <id>", so a lost or duplicated message never loses or doubles an
answer (the run claims the row first; see `desk/jobs/store.py`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from desk.models import Base, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting for a runner (in the embedded pool or the broker)
    RUNNING = "running"  # claimed by a runner that renews its lease
    ANSWERED = "answered"  # the crew's answer is on the case
    FAILED = "failed"  # the crew failed, or every attempt died: the case says what happens next


ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class JobKind(StrEnum):
    FIRST_MESSAGE = "first_message"
    FOLLOW_UP = "follow_up"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
        Index("ix_jobs_case_created", "case_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED)
    # Runs started (claims); a run that dies counts, so a message that kills its runner stops after N.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What the crew needs: the sanitised message and context, the decision, the route, the thread so far.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Who holds the job and until when: the embedded pool of one API process (queued and running jobs) or
    # one worker process (running jobs). A holder renews its lease while it lives; an expired lease means
    # the holder died, and the sweep re-queues the job.
    owner: Mapped[str | None] = mapped_column(String(120), default=None)
    run_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyState(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"


class IdempotencyKey(Base):
    """One `Idempotency-Key` one account sent: what the first request was (its fingerprint) and what it made."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_idempotency_account_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and the canonical JSON body: the same key with another body is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default=IdempotencyState.IN_PROGRESS)
    case_id: Mapped[str | None] = mapped_column(String(36), default=None)
    job_id: Mapped[str | None] = mapped_column(String(32), default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
