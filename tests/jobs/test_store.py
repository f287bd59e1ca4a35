"""The job table's claim on SQLite and PostgreSQL: one winner among racing runners, attempts counted, an expired
lease taken over, a job out of attempts left alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from crew.models import Route
from desk import cases
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.jobs import store
from desk.models import Account, CaseStatus


def test_a_claim_has_one_winner_counts_attempts_and_takes_over_an_expired_lease(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
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

    def take(owner: str) -> store.Claimed | None:
        return store.claim(engine, job_id, owner=owner, lease=timedelta(seconds=30), max_attempts=2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = [c for c in pool.map(take, [f"runner-{i}" for i in range(8)]) if c is not None]
    assert len(claims) == 1
    first = claims[0]
    assert (first.case_id, first.kind, first.payload, first.attempts) == (case.id, "first_message", {"message": "x"}, 1)
    with engine.connect() as conn:
        status = conn.execute(select(store.CASES.c.status).where(store.CASES.c.id == case.id)).scalar_one()
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
