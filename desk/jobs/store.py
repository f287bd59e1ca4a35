"""Core statements on the `jobs` table. Every transition that two runners (or two sweeps) could race on is one
guarded UPDATE (`... WHERE <expected state>`) whose row count says who won, as in the on-call outbox.

    create        job row + case `queued` (+ the caller's Idempotency-Key bound to it), one transaction
    claim         queued (or running with an expired lease) -> running, attempts + 1, a fresh run token; reads
                  the case the run answers in the same transaction
    renew         a live holder pushes its leases forward (one UPDATE for all its jobs)
    finish        running -> answered / failed, only by the run that holds the token
    release       running -> queued again after an error that is not the crew's (the sweep re-sends it)
    expired       active jobs whose holder stopped renewing: the sweep re-queues them or gives up
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Row,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from desk.cases import SELECT_CASE
from desk.jobs.models import ACTIVE, IdempotencyKey, Job, JobStatus
from desk.models import Author, Case, CaseMessage, CaseStatus, utcnow

JOBS = cast(Table, Job.__table__)
CASES = cast(Table, Case.__table__)
MESSAGES = cast(Table, CaseMessage.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
INSERT_JOB = insert(JOBS)
# Statuses the crew's job may move a case out of: people's statuses (escalated, needs_human, ...) are kept.
CREW_STATUSES = (
    CaseStatus.OPEN.value,
    CaseStatus.QUEUED.value,
    CaseStatus.RUNNING.value,
    CaseStatus.ANSWERED.value,
    CaseStatus.FAILED.value,
)
SET_CASE_STATUS = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"), CASES.c.status.in_(bindparam("from_statuses", expanding=True)))
    .values(status=bindparam("to_status"), updated_at=bindparam("at"))
)
BIND_KEY = update(KEYS).where(KEYS.c.id == bindparam("key_id")).values(case_id=bindparam("c"), job_id=bindparam("j"))
# The claim in one statement, built once: the guarded UPDATE hands back the row it took (RETURNING: PostgreSQL,
# and SQLite since 3.35), instead of an UPDATE and then a SELECT, each built per call.
CLAIM = (
    update(JOBS)
    .where(
        JOBS.c.id == bindparam("job_id"),
        or_(
            JOBS.c.status == JobStatus.QUEUED.value,
            and_(JOBS.c.status == JobStatus.RUNNING.value, JOBS.c.lease_expires_at < bindparam("now")),
        ),
        JOBS.c.attempts < bindparam("max_attempts"),
    )
    .values(
        status=JobStatus.RUNNING.value,
        attempts=JOBS.c.attempts + 1,
        owner=bindparam("holder"),
        run_token=bindparam("token"),
        lease_expires_at=bindparam("until"),
        started_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(JOBS.c.case_id, JOBS.c.kind, JOBS.c.payload, JOBS.c.attempts, JOBS.c.created_at)
)
# The claim's case, shown as running, handed back by the same statement (RETURNING) when it was queued; a case
# in another status (people have it, or a follow-up's) is read as it is.
CASE_RUNNING = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"), CASES.c.status == CaseStatus.QUEUED.value)
    .values(status=CaseStatus.RUNNING.value, updated_at=bindparam("at"))
    .returning(*CASES.c)
)
RENEW = (
    update(JOBS)
    .where(JOBS.c.owner == bindparam("holder"), JOBS.c.status.in_(ACTIVE))
    .values(lease_expires_at=bindparam("until"))
)


def new_job_id() -> str:
    return uuid.uuid4().hex


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


@dataclass(frozen=True)
class Claimed:
    """A job this run holds: run it, then `finish` with `token`."""

    id: str
    case_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    token: str
    created_at: datetime
    case: Row[Any] | None  # the case's row as the claim left it (None: the case is gone)


def insert_job(
    conn: Connection,
    *,
    case_id: str,
    kind: str,
    payload: dict[str, Any],
    owner: str | None,
    lease: timedelta,
    idempotency_key_id: int | None = None,
    case_queued: bool = False,
) -> str:
    """Store a queued job for the case and show the case as queued (unless people have it), on `conn`: the
    intake inserts the case (or its follow-up) and its job in one transaction. `case_queued`: the case row was
    inserted as queued in this transaction, so it is not updated again."""
    job_id, now = new_job_id(), utcnow()
    conn.execute(
        INSERT_JOB,
        {
            "id": job_id,
            "case_id": case_id,
            "kind": kind,
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "payload": payload,
            "owner": owner,
            "lease_expires_at": now + lease,
            "created_at": now,
            "updated_at": now,
        },
    )
    if not case_queued:
        _set_case_status(conn, case_id, CaseStatus.QUEUED, now, CREW_STATUSES)
    if idempotency_key_id is not None:
        conn.execute(BIND_KEY, {"key_id": idempotency_key_id, "c": case_id, "j": job_id})
    return job_id


def _set_case_status(
    conn: Connection, case_id: str, status: CaseStatus, at: datetime, from_statuses: Sequence[str]
) -> None:
    conn.execute(
        SET_CASE_STATUS, {"case_id": case_id, "to_status": status.value, "at": at, "from_statuses": list(from_statuses)}
    )


def claim(engine: Engine, job_id: str, *, owner: str, lease: timedelta, max_attempts: int) -> Claimed | None:
    """Take the job for this run. None when it is done, held by a live runner, or out of attempts."""
    now, token = utcnow(), uuid.uuid4().hex
    params = {
        "job_id": job_id,
        "now": now,
        "max_attempts": max_attempts,
        "holder": owner,
        "token": token,
        "until": now + lease,
    }
    with engine.begin() as conn:
        row = conn.execute(CLAIM, params).first()
        if row is None:
            return None
        case = conn.execute(CASE_RUNNING, {"case_id": row.case_id, "at": now}).first()
        if case is None:
            case = conn.execute(SELECT_CASE, {"case_id": row.case_id}).first()
    return Claimed(job_id, row.case_id, row.kind, dict(row.payload), row.attempts, token, row.created_at, case)


def answered_since(engine: Engine, case_id: str, since: datetime) -> bool:
    """An agent message on the case after `since`: a run that died after recording its answer answered."""
    with engine.connect() as conn:
        found = conn.execute(
            select(MESSAGES.c.id)
            .where(
                MESSAGES.c.case_id == case_id,
                MESSAGES.c.author == Author.AGENT.value,
                MESSAGES.c.created_at >= since,
            )
            .limit(1)
        ).first()
    return found is not None


def renew(engine: Engine, holder: str, lease: timedelta) -> int:
    with engine.begin() as conn:
        return _rowcount(conn.execute(RENEW, {"holder": holder, "until": utcnow() + lease}))


def finish(engine: Engine, claimed: Claimed, status: JobStatus, *, error_code: str | None = None) -> bool:
    """Record the run's end. False if this run no longer held the job (its lease was taken over)."""
    with engine.begin() as conn:
        return finish_on(conn, claimed, status, error_code=error_code)


def finish_on(conn: Connection, claimed: Claimed, status: JobStatus, *, error_code: str | None = None) -> bool:
    """`finish` on the caller's transaction (the answer's own, so the answer and the job's end commit together)."""
    now = utcnow()
    return (
        _rowcount(
            conn.execute(
                update(JOBS)
                .where(
                    JOBS.c.id == claimed.id,
                    JOBS.c.run_token == claimed.token,
                    JOBS.c.status == JobStatus.RUNNING.value,
                )
                .values(
                    status=status.value,
                    error_code=error_code,
                    owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                )
            )
        )
        == 1
    )


def release(engine: Engine, claimed: Claimed, *, retry_in: timedelta) -> bool:
    """Give the job back (queued, no holder) after an error around the crew; the sweep re-sends it then."""
    now = utcnow()
    with engine.begin() as conn:
        won = _rowcount(
            conn.execute(
                update(JOBS)
                .where(JOBS.c.id == claimed.id, JOBS.c.run_token == claimed.token)
                .values(
                    status=JobStatus.QUEUED.value,
                    owner=None,
                    run_token=None,
                    lease_expires_at=now + retry_in,
                    updated_at=now,
                )
            )
        )
        if won:
            _set_case_status(conn, claimed.case_id, CaseStatus.QUEUED, now, (CaseStatus.RUNNING.value,))
    return won == 1


@dataclass(frozen=True)
class Abandoned:
    id: str
    case_id: str
    attempts: int
    status: str


def expired(engine: Engine, *, limit: int = 200) -> list[Abandoned]:
    """Active jobs whose holder stopped renewing (dead process) or whose message was presumed lost."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            select(JOBS.c.id, JOBS.c.case_id, JOBS.c.attempts, JOBS.c.status)
            .where(JOBS.c.status.in_(ACTIVE), JOBS.c.lease_expires_at < now)
            .order_by(JOBS.c.lease_expires_at)
            .limit(limit)
        ).all()
    return [Abandoned(r.id, r.case_id, r.attempts, r.status) for r in rows]


def requeue(engine: Engine, job_id: str, *, owner: str | None, lease: timedelta) -> bool:
    """Queued again for a new run, if nobody else re-queued or claimed it since it was seen expired."""
    now = utcnow()
    with engine.begin() as conn:
        won = _rowcount(
            conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id, JOBS.c.status.in_(ACTIVE), JOBS.c.lease_expires_at < now)
                .values(
                    status=JobStatus.QUEUED.value,
                    owner=owner,
                    run_token=None,
                    lease_expires_at=now + lease,
                    updated_at=now,
                )
            )
        )
        if won:
            case_id = conn.execute(select(JOBS.c.case_id).where(JOBS.c.id == job_id)).scalar_one()
            _set_case_status(conn, case_id, CaseStatus.QUEUED, now, (CaseStatus.RUNNING.value,))
    return won == 1


def give_up(engine: Engine, job: Abandoned, *, error_code: str, case_status: CaseStatus) -> bool:
    """Out of attempts: the job fails and its case goes to `case_status` (the people's queue) with the reason,
    unless people already have it. Never left silently open."""
    now = utcnow()
    with engine.begin() as conn:
        won = _rowcount(
            conn.execute(
                update(JOBS)
                .where(JOBS.c.id == job.id, JOBS.c.status.in_(ACTIVE), JOBS.c.lease_expires_at < now)
                .values(
                    status=JobStatus.FAILED.value,
                    error_code=error_code,
                    owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                )
            )
        )
        if won:
            conn.execute(
                update(CASES)
                .where(CASES.c.id == job.case_id, CASES.c.status.in_(CREW_STATUSES))
                .values(status=case_status.value, error_code=error_code, updated_at=now)
            )
    return won == 1


@dataclass(frozen=True)
class JobView:
    id: str
    case_id: str
    status: str
    attempts: int
    error_code: str | None


def get(engine: Engine, job_id: str) -> JobView | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(JOBS.c.id, JOBS.c.case_id, JOBS.c.status, JOBS.c.attempts, JOBS.c.error_code).where(
                JOBS.c.id == job_id
            )
        ).first()
    return JobView(row.id, row.case_id, row.status, row.attempts, row.error_code) if row is not None else None


def depth(engine: Engine) -> dict[str, Any]:
    """Queue depth as the jobs table sees it: active jobs by status and the oldest queued one's age."""
    now = utcnow()
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(select(JOBS.c.status, func.count()).where(JOBS.c.status.in_(ACTIVE)).group_by(JOBS.c.status))
            .tuples()
            .all()
        )
        oldest = conn.execute(select(func.min(JOBS.c.created_at)).where(JOBS.c.status == JobStatus.QUEUED.value))
        first = oldest.scalar()
    if first is not None and first.tzinfo is None:
        from datetime import UTC

        first = first.replace(tzinfo=UTC)
    return {
        "queued": int(counts.get(JobStatus.QUEUED.value, 0)),
        "running": int(counts.get(JobStatus.RUNNING.value, 0)),
        "oldest_queued_seconds": round((now - first).total_seconds(), 3) if first is not None else None,
    }
