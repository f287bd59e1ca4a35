"""Crews on Celery workers in their own processes: the API hands off and waits, 202 with respond-async, both
brokers; a worker killed with kill -9 mid-run loses no case; queue depth and workers in /readyz."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.fake_crew import FakeCrew
from desk.db import upgrade_database
from desk.jobs import store
from desk.settings import Settings
from tests.api.conftest import make_settings
from tests.jobs.conftest import Worker, job_env, wait_until

MakeAccount = Callable[..., dict[str, str]]
Workers = Callable[..., Worker]

pytestmark = pytest.mark.slow


def api_settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    return make_settings(
        tmp_path,
        celery_broker_url=env["CELERY_BROKER_URL"],
        job_lease_seconds=float(env["JOB_LEASE_SECONDS"]),
        job_sweep_seconds=float(env["JOB_SWEEP_SECONDS"]),
        job_wait_seconds=float(env.get("JOB_WAIT_SECONDS", "30")),
    )


def two_running_jobs(
    client: TestClient, headers: dict[str, str], worker: Worker
) -> tuple[list[httpx.Response], list[str]]:
    """Two requests accepted with `Prefer: respond-async` (202) and running on `worker`: (responses, job ids)."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    accepted = [
        client.post("/support/request", json={"message": f"charge {i}"}, headers={**headers, "Prefer": "respond-async"})
        for i in range(2)
    ]
    assert [r.status_code for r in accepted] == [202, 202]
    jobs = [r.json()["job_id"] for r in accepted]
    wait_until(
        lambda: all((j := store.get(engine, job)) is not None and j.status == "running" for job in jobs),
        60,
        "both jobs running",
        worker.tail,
    )
    return accepted, jobs


def test_the_api_hands_off_to_a_worker_and_waits_for_the_answer(
    tmp_path: Path,
    broker_url: str,
    client_for: Callable[..., TestClient],
    make_account: MakeAccount,
    workers: Workers,
) -> None:
    env = job_env(tmp_path, broker_url, test_crew_delay=0.2)
    settings = api_settings(tmp_path, env)
    upgrade_database(settings.database_url)
    worker = workers(env, tmp_path / "worker.log", "--pool", "threads", "--concurrency", "4")
    api_crew = FakeCrew()
    client = client_for(settings, api_crew)
    alice = make_account(client, "alice", "customer", "cust-a")

    answered = client.post("/support/request", json={"message": "refund the duplicate charge"}, headers=alice)
    later = client.post("/support/billing", json={"message": "invoice"}, headers={**alice, "Prefer": "respond-async"})

    assert answered.status_code == 200, answered.text + worker.tail()
    assert answered.json()["status"] == "answered" and answered.json()["response"]
    assert api_crew.calls == []  # the worker's crew answered, not the API's
    assert later.status_code == 202
    case_id = later.json()["case_id"]
    wait_until(
        lambda: client.get(f"/support/cases/{case_id}", headers=alice).json()["status"] == "answered",
        30,
        "the 202 case's answer",
        worker.tail,
    )
    ready = wait_until(
        lambda: (r := client.get("/readyz").json()).get("jobs", {}).get("workers") and r, 30, "a worker ping"
    )
    assert ready["checks"]["broker"] == "ok" and ready["jobs"]["mode"] == "celery"
    assert set(ready["jobs"]["queues"]) == {"crew", "paging"}


def test_kill_9_of_a_worker_mid_run_loses_no_case(
    tmp_path: Path,
    redis_broker: str,
    client_for: Callable[..., TestClient],
    make_account: MakeAccount,
    workers: Workers,
) -> None:
    env = job_env(tmp_path, redis_broker, test_crew_delay=3.0, job_wait_seconds=0)
    settings = api_settings(tmp_path, env)
    upgrade_database(settings.database_url)
    worker = workers(env, tmp_path / "worker.log", "--pool", "prefork", "--concurrency", "2")
    client = client_for(settings, FakeCrew())
    alice = make_account(client, "alice", "customer", "cust-a")
    engine = client.app.state.engine  # type: ignore[attr-defined]

    accepted, jobs = two_running_jobs(client, alice, worker)
    children = worker.children()
    assert children, worker.tail()
    for child in children:
        os.kill(child, signal.SIGKILL)  # the processes running the crews, mid-run

    for response in accepted:
        case_id = response.json()["case_id"]
        case = wait_until(
            lambda case_id=case_id: (
                (c := client.get(f"/support/cases/{case_id}", headers=alice).json())["status"] == "answered" and c
            ),
            90,
            f"case {case_id} answered after the kill",
            worker.tail,
        )
        assert [m["author"] for m in case["messages"]] == ["customer", "agent"]  # answered once
    attempts = [store.get(engine, job).attempts for job in jobs]  # type: ignore[union-attr]
    assert all(a >= 2 for a in attempts), attempts


def test_pages_go_out_as_celery_tasks_retried_with_backoff_and_never_twice(
    tmp_path: Path,
    redis_broker: str,
    client_for: Callable[..., TestClient],
    make_account: MakeAccount,
    workers: Workers,
) -> None:
    from bench.local_receiver import LocalReceiver

    secret = "whsec-test-0123456789abcdef"
    with LocalReceiver(secret) as receiver:
        env = job_env(
            tmp_path,
            redis_broker,
            oncall_webhook_url=receiver.url,
            oncall_webhook_secret=secret,
            oncall_retry_base_seconds=0.2,
            oncall_retry_max_seconds=0.5,
            oncall_worker_poll_seconds=0.1,
        )
        settings = make_settings(
            tmp_path,
            celery_broker_url=redis_broker,
            oncall_webhook_url=receiver.url,
            oncall_webhook_secret=secret,
            oncall_retry_base_seconds=0.2,
            oncall_retry_max_seconds=0.5,
            oncall_worker_poll_seconds=0.1,
            job_lease_seconds=2.0,
            job_sweep_seconds=0.5,
        )
        upgrade_database(settings.database_url)
        worker = workers(env, tmp_path / "worker.log", "--pool", "threads", "--concurrency", "4")
        client = client_for(settings, FakeCrew())
        alice, staff = make_account(client, "alice", "customer", "cust-a"), make_account(client, "sam", "staff")
        receiver.answer_with(503)

        flagged = client.post("/support/request", json={"message": "fire", "emergency": True}, headers=alice)
        detected = client.post("/support/request", json={"message": "my account was hacked"}, headers=alice)

        assert flagged.status_code == 200 and detected.status_code == 200, detected.text + worker.tail()
        assert detected.json()["status"] == "escalated"  # the worker's job classified it and paged
        assert receiver.wait_for(lambda r: len(r) >= 4, 30), worker.tail()  # failing attempts, retried
        receiver.answer_with(200)
        assert receiver.wait_for(lambda r: len({x.idempotency_key for x in r if x.status == 200}) == 2, 30)
        pages = client.get("/support/oncall/pages", headers=staff).json()["items"]
        assert {p["status"] for p in pages} == {"delivered"} and len(pages) == 2
        assert all(p["attempts"] >= 2 for p in pages)
        delivered = [r.idempotency_key for r in receiver.received if r.status == 200]
        assert sorted(delivered) == sorted({p["idempotency_key"] for p in pages})  # each page delivered once


def test_a_worker_recovers_what_a_dead_worker_held_with_no_api_sweeping(
    tmp_path: Path,
    redis_broker: str,
    client_for: Callable[..., TestClient],
    make_account: MakeAccount,
    workers: Workers,
) -> None:
    env = job_env(tmp_path, redis_broker, test_crew_delay=3.0, job_wait_seconds=0)
    # The API sweeps once at start and then not for an hour: only the workers' own sweep can recover.
    settings = api_settings(tmp_path, {**env, "JOB_SWEEP_SECONDS": "3600"})
    upgrade_database(settings.database_url)
    first = workers(env, tmp_path / "first.log", "--pool", "threads", "--concurrency", "2")
    client = client_for(settings, FakeCrew())
    alice = make_account(client, "alice", "customer", "cust-a")
    engine = client.app.state.engine  # type: ignore[attr-defined]

    accepted, jobs = two_running_jobs(client, alice, first)
    os.killpg(first.process.pid, signal.SIGKILL)  # the whole worker, as a machine crash would
    second = workers(env, tmp_path / "second.log", "--pool", "threads", "--concurrency", "2")

    for response in accepted:
        case_id = response.json()["case_id"]
        wait_until(
            lambda case_id=case_id: (
                client.get(f"/support/cases/{case_id}", headers=alice).json()["status"] == "answered"
            ),
            90,
            f"case {case_id} answered after the crash",
            second.tail,
        )
    assert all(store.get(engine, job).attempts >= 2 for job in jobs)  # type: ignore[union-attr]
    audit = (tmp_path / "audit.log").read_text()
    assert audit.count('"worker-job-sweep"') >= 2, audit[-2000:]
