"""The job table's claim on SQLite and PostgreSQL: one winner among racing runners, attempts counted, an expired
lease taken over, a job out of attempts left alone; the crew's answer and the job's end commit together."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, func, select

from crew.models import Category, Classification, Priority, Route, SupportResult
from desk import cases
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.jobs import runner, store
from desk.models import Account, CaseMessage, CaseStatus


def _new_job(engine: Engine) -> tuple[str, str]:
    """(case id, job id) of a fresh first message, queued."""
    with make_session_factory(engine).begin() as session:
        account = Account(username="alice", password_hash="!", role="customer", customer_id="cust-a")
        session.add(account)
        session.flush()
        account_id = account.id
    with engine.begin() as conn:
        case = cases.insert_case(
            conn,
            customer_id="cust-a",
            account_id=account_id,
            requested_route=Route.AUTO,
            emergency=False,
            sanitised=False,
            context=None,
            message="refund please",
        )
        job_id = store.insert_job(
            conn,
            case_id=case.id,
            kind="first_message",
            payload={"message": "x"},
            owner=None,
            lease=timedelta(minutes=1),
        )
    return case.id, job_id


def test_a_claim_has_one_winner_counts_attempts_and_takes_over_an_expired_lease(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    case_id, job_id = _new_job(engine)

    def take(owner: str) -> store.Claimed | None:
        return store.claim(engine, job_id, owner=owner, lease=timedelta(seconds=30), max_attempts=2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = [c for c in pool.map(take, [f"runner-{i}" for i in range(8)]) if c is not None]
    assert len(claims) == 1
    first = claims[0]
    assert (first.case_id, first.kind, first.payload, first.attempts) == (case_id, "first_message", {"message": "x"}, 1)
    with engine.connect() as conn:
        status = conn.execute(select(store.CASES.c.status).where(store.CASES.c.id == case_id)).scalar_one()
    assert status == CaseStatus.RUNNING.value

    # Held by a live runner: nobody else takes it; once its lease has run out, the next runner does.
    assert take("late") is None
    with engine.begin() as conn:
        conn.execute(store.JOBS.update().values(lease_expires_at=store.utcnow() - timedelta(seconds=1)))
    second = take("rescuer")
    assert second is not None and second.attempts == 2 and second.token != first.token
    assert not store.finish(engine, first, store.JobStatus.ANSWERED)  # the first run no longer holds it
    with engine.begin() as conn:
        conn.execute(store.JOBS.update().values(lease_expires_at=store.utcnow() - timedelta(seconds=1)))
    assert take("third") is None  # out of attempts (2)
    engine.dispose()


def test_the_crews_answer_and_the_jobs_end_commit_together(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    case_id, job_id = _new_job(engine)
    claimed = store.claim(engine, job_id, owner="runner", lease=timedelta(seconds=30), max_attempts=2)
    assert claimed is not None and claimed.case is not None
    result = SupportResult(
        reply="Refunds take 5 days.",
        agent_type=Route.BILLING,
        classification=Classification(
            category=Category.BILLING, priority=Priority.MEDIUM, confidence=0.9, is_complex=False
        ),
    )

    def record(also: Callable[[Connection], None]) -> None:
        state = cases.case_state(claimed.case, follow_up=False, emergency=False)
        cases.record_answer(
            engine,
            state,
            result,
            reply=result.reply,
            citations=[],
            reply_sanitised=False,
            latency_ms=1.0,
            same_transaction=also,
        )

    def status_of() -> tuple[str, str, int]:
        """The case's status, the job's, and how many replies the case holds."""
        with engine.connect() as conn:
            case_status = conn.execute(select(store.CASES.c.status).where(store.CASES.c.id == case_id)).scalar_one()
            job_status = conn.execute(select(store.JOBS.c.status).where(store.JOBS.c.id == job_id)).scalar_one()
            replies = conn.execute(
                select(func.count()).where(CaseMessage.case_id == case_id, CaseMessage.author == "agent")
            ).scalar_one()
        return case_status, job_status, replies

    def fails(conn: Connection) -> None:
        store.finish_on(conn, claimed, store.JobStatus.ANSWERED)
        raise RuntimeError("the database went away mid-commit")

    with pytest.raises(RuntimeError):
        record(fails)
    assert status_of() == (CaseStatus.RUNNING.value, "running", 0)  # neither the answer nor the job's end

    finish = runner.FinishWithAnswer(claimed)
    record(finish)
    assert finish.held is True
    assert status_of() == (CaseStatus.ANSWERED.value, "answered", 1)
    engine.dispose()
