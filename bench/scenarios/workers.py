"""`workers` and `crash`: the crew on Celery workers (issue 13), against the fake hosted model.

- `workers`: hosted-slow (classifier and specialists on the fake server, `delay` s per call), the top load
  level, run back to back in one run: in-request (the embedded default: one API process runs the crews)
  and then the API in its own process with 1, 2 and 4 `support-desk worker --pool threads` processes behind
  Redis. Each row: throughput over ideal, and CPU per request of the API process and of the workers apart.
- `crash`: N jobs accepted with `Prefer: respond-async` on two workers; one worker is killed with kill -9
  (its whole process group) while jobs are running, and a fresh one started. Counts accepted, answered,
  resumed (answered after more than one run), failed (failed or in the people's queue) and lost (none of
  these when the recovery window ends).

Both share cases in PostgreSQL (a throw-away schema) when it answers, else one SQLite file; the broker is
Redis (`--redis-url`'s server, database 14, flushed first).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.api_process import AccountTemplate, ApiProcess
from bench.context import ACCOUNTS, INTEGRATOR, BenchContext, target
from bench.fake_llm import FakeLLMServer
from bench.load import ClosedLoad, closed_level
from bench.messages import payloads
from bench.pgschema import PostgresUnreachable, throwaway_schema
from bench.scenarios.hosted import THROUGHPUT_TARGET, _env, delay, loads, redis_unreachable
from bench.worker_process import WorkerProcess

API_CPU_TARGET_MS = 5.0
BROKER_DB = 14
WORKER_READY_SECONDS = 180.0


def broker_url(redis_url: str) -> str:
    base = redis_url.rsplit("/", 1)[0] if redis_url.count("/") >= 3 else redis_url
    return f"{base}/{BROKER_DB}"


def _flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2.0)
    try:
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def shared_database(ctx: BenchContext, workdir: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, kind): a throw-away PostgreSQL schema when it answers, else a SQLite file in workdir."""
    try:
        with throwaway_schema(ctx.worker_database_url) as url:
            yield url, "postgresql"
            return
    except PostgresUnreachable:
        pass
    yield f"sqlite:///{workdir / 'shared.db'}", "sqlite"


def wait_for_workers(api: ApiProcess, count: int, workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + WORKER_READY_SECONDS
    with httpx.Client(base_url=api.base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            seen = client.get("/readyz").json().get("jobs", {}).get("workers") or []
            if len(seen) >= count:
                return
            for worker in workers:
                if worker.process is not None and worker.process.poll() is not None:
                    raise RuntimeError(f"a worker exited: {worker.log_tail()}")
            time.sleep(0.5)
    raise RuntimeError(f"{count} worker(s) did not answer a ping in time: {workers[0].log_tail()}")


def _cpu(workers: list[WorkerProcess]) -> float:
    return sum(w.sample().cpu_seconds for w in workers)


def in_request_level(
    ctx: BenchContext, load: ClosedLoad, wait: float, shared: dict[str, str], accounts: AccountTemplate
) -> dict[str, Any]:
    workdir = ctx.scenario_dir("workers-in-request")
    with (
        FakeLLMServer(delay=wait) as server,
        ApiProcess(workdir, accounts, env={**_env(server, True), **shared}) as api,
    ):
        requests = [{**item, "token": api.token(INTEGRATOR)} for item in payloads()]
        level = closed_level(api, load, requests, server, wait)
    level.update(mode="in-request", worker_processes=0, api_cpu_ms_per_request=level["cpu_ms_per_request"])
    return level


def worker_level(
    ctx: BenchContext,
    load: ClosedLoad,
    wait: float,
    shared: dict[str, str],
    accounts: AccountTemplate,
    processes: int,
) -> dict[str, Any]:
    workdir = ctx.scenario_dir(f"workers-{processes}")
    broker = broker_url(ctx.redis_url)
    _flush(broker)
    env = {**shared, "CELERY_BROKER_URL": broker, "JOB_WAIT_SECONDS": "600"}
    threads = math.ceil(load.concurrency / processes) + 2
    with FakeLLMServer(delay=wait) as server:
        env.update(_env(server, True))
        with ApiProcess(workdir, accounts, env=env) as api, contextlib.ExitStack() as stack:
            workers = [
                stack.enter_context(
                    WorkerProcess(workdir, env, "--pool", "threads", "--concurrency", str(threads), name=f"w{i}")
                )
                for i in range(processes)
            ]
            wait_for_workers(api, processes, workers)
            requests = [{**item, "token": api.token(INTEGRATOR)} for item in payloads()]
            before = _cpu(workers)
            level = closed_level(api, load, requests, server, wait)
            worker_cpu = _cpu(workers) - before
    level.update(
        mode="workers",
        worker_processes=processes,
        worker_threads=threads,
        api_cpu_ms_per_request=level["cpu_ms_per_request"],
        worker_cpu_ms_per_request=round(worker_cpu * 1000 / max(1, level["requests"]), 1),
    )
    return level


def run_workers(ctx: BenchContext) -> dict[str, Any]:
    reason = redis_unreachable(broker_url(ctx.redis_url))
    if reason is not None:
        return {"scenario": "workers", "skipped": reason, "targets": []}
    wait = delay(ctx.quick)
    load = loads(ctx.quick)[-1]
    counts = (1, 2) if ctx.quick else (1, 2, 4)
    workdir = ctx.scenario_dir("workers")
    workdir.mkdir(parents=True, exist_ok=True)
    with shared_database(ctx, workdir) as (database_url, kind):
        shared = {"DATABASE_URL": database_url, "RATE_LIMIT_STORAGE_URI": ctx.redis_url}
        accounts = AccountTemplate.create(workdir / "accounts", ACCOUNTS, shared)
        levels = [in_request_level(ctx, load, wait, shared, accounts)]
        levels += [worker_level(ctx, load, wait, shared, accounts, n) for n in counts]
    top = levels[-1]
    errors = sum(sum(level["errors"].values()) for level in levels)
    return {
        "scenario": "workers",
        "delay_s": wait,
        "database": kind,
        "levels": levels,
        "targets": [
            target(
                f"measured/ideal at concurrency {top['concurrency']}, API + {top['worker_processes']} workers",
                f">= {THROUGHPUT_TARGET:.0%}",
                top["measured_over_ideal"],
                top["measured_over_ideal"] >= THROUGHPUT_TARGET,
            ),
            target(
                "API process CPU per request (ms)",
                f"<= {API_CPU_TARGET_MS}",
                top["api_cpu_ms_per_request"],
                top["api_cpu_ms_per_request"] <= API_CPU_TARGET_MS,
            ),
            target("errors", "0", errors, errors == 0),
        ],
    }


# --- crash ------------------------------------------------------------------------------------------------
def run_crash(ctx: BenchContext) -> dict[str, Any]:
    broker = broker_url(ctx.redis_url)
    reason = redis_unreachable(broker)
    if reason is not None:
        return {"scenario": "crash", "skipped": reason, "targets": []}
    jobs = 4 if ctx.quick else 20
    wait = 0.3 if ctx.quick else 1.0
    workdir = ctx.scenario_dir("crash")
    workdir.mkdir(parents=True, exist_ok=True)
    _flush(broker)
    with shared_database(ctx, workdir) as (database_url, kind):
        env = {
            "DATABASE_URL": database_url,
            "RATE_LIMIT_STORAGE_URI": ctx.redis_url,
            "CELERY_BROKER_URL": broker,
            "JOB_LEASE_SECONDS": "3",
            "JOB_SWEEP_SECONDS": "1",
        }
        accounts = AccountTemplate.create(workdir / "accounts", ACCOUNTS, env)
        with FakeLLMServer(delay=wait) as server:
            env.update(_env(server, True))
            with ApiProcess(workdir, accounts, env=env) as api, contextlib.ExitStack() as stack:
                args = ("--pool", "threads", "--concurrency", str(jobs))
                doomed = stack.enter_context(WorkerProcess(workdir, env, *args, name="doomed"))
                survivor = stack.enter_context(WorkerProcess(workdir, env, *args, name="survivor"))
                wait_for_workers(api, 2, [doomed, survivor])
                result = _crash_round(api, server, doomed, survivor, jobs, workdir, env)
    result.update(scenario="crash", database=kind, delay_s=wait)
    lost = result["lost"]
    result["targets"] = [
        target("cases left without an answer or a failed/people state after kill -9 of a worker", "0", lost, lost == 0)
    ]
    return result


def _crash_round(
    api: ApiProcess,
    server: FakeLLMServer,
    doomed: WorkerProcess,
    survivor: WorkerProcess,
    jobs: int,
    workdir: Path,
    env: dict[str, str],
) -> dict[str, Any]:
    token = api.token(INTEGRATOR)
    headers = {"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
    messages = [str(item["json"]["message"]) for item in payloads()]  # type: ignore[index]
    case_ids: list[str] = []
    with httpx.Client(base_url=api.base_url, timeout=30.0) as client:
        for i in range(jobs):
            response = client.post(
                "/support/request",
                json={"message": messages[i % len(messages)], "customer_id": f"crash-{i}"},
                headers=headers,
            )
            if response.status_code == 202:
                case_ids.append(response.json()["case_id"])
        accepted = len(case_ids)
        # Kill mid-run: once the fake model has calls in flight (jobs are in the middle of their crews).
        deadline = time.monotonic() + 60
        while server.stats().peak_in_flight < max(2, jobs // 4) and time.monotonic() < deadline:
            time.sleep(0.05)
        in_flight = server.stats().peak_in_flight
        doomed.kill()
        killed_at = time.monotonic()
        with WorkerProcess(workdir, env, "--pool", "threads", "--concurrency", str(jobs), name="replacement"):
            states = _wait_final(client, headers, case_ids, timeout=180.0)
        recovered_in = round(time.monotonic() - killed_at, 1)
    runs = _runs(env["DATABASE_URL"])
    resumed = sum(1 for case_id in states if runs.get(case_id, 1) > 1)
    answered = sum(1 for s in states.values() if s["replied"])
    failed = sum(1 for s in states.values() if not s["replied"])
    # Lost: accepted (202, so stored) yet neither answered nor failed/with people when the window ends.
    lost = accepted - len(states)
    return {
        "accepted": accepted,
        "answered": answered,
        "resumed": resumed,
        "failed": failed,
        "lost": lost,
        "model_calls_in_flight_at_kill": in_flight,
        "seconds_to_recover": recovered_in,
    }


def _wait_final(
    client: httpx.Client, headers: dict[str, str], case_ids: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for case_id in case_ids:
            if case_id in states:
                continue
            case = client.get(f"/support/cases/{case_id}", headers=headers).json()
            replied = any(m["author"] == "agent" for m in case.get("messages", []))
            if case.get("status") not in ("queued", "running", "open"):
                states[case_id] = {"status": case["status"], "replied": replied, "error": case.get("error_code")}
        if len(states) == len(case_ids):
            break
        time.sleep(0.5)
    return states


def _runs(database_url: str) -> dict[str, int]:
    """Runs per case (the most any of its jobs took): more than one means it was resumed after the kill."""
    from sqlalchemy import create_engine, func, select

    from desk.jobs.models import Job

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Job.case_id, func.max(Job.attempts)).group_by(Job.case_id)).all()
    finally:
        engine.dispose()
    return {case_id: int(attempts) for case_id, attempts in rows}
