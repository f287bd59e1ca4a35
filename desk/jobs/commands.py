"""`support-desk worker [--concurrency N] [--queues crew,paging] [--pool prefork|threads]`: a Celery worker.

    prefork (default)  N processes, one job each at a time: the shape CrewAI is safe in (its event bus is a
                       process singleton); right for the local model, which is CPU-bound anyway.
    threads            N jobs at once in one process: for hosted models, where a job mostly waits on the model
                       (the crew's own requests already run concurrently from threads in the API; measured in
                       docs/performance.md). One prefork process per core, each with threads, is not a pool
                       Celery has: run several `--pool threads` workers instead.

The worker waits for the database schema (the API's `serve` or `support-desk db upgrade` migrates it). Its
main process also runs the jobs' recovery sweep (desk/jobs/recovery.py), as every API process does.
"""

from __future__ import annotations

import argparse
import logging
import socket
import time

from desk.console import err as _err
from desk.settings import get_settings

logger = logging.getLogger(__name__)
SCHEMA_WAIT_SECONDS = 120.0


def worker(args: argparse.Namespace) -> int:
    from celery.signals import worker_ready

    from desk.db import is_at_head
    from desk.jobs.broker import QUEUES, WorkerContext, load_factory, make_celery, real_crew, recovery_loop

    settings = get_settings()
    if not settings.celery_broker_url:
        _err(
            "support-desk worker needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/1); "
            "without it the API runs jobs itself"
        )
        return 2
    queues = [q.strip() for q in (args.queues or ",".join(QUEUES)).split(",") if q.strip()]
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        _err(f"unknown queue(s) {', '.join(unknown)}; the desk's queues are {', '.join(QUEUES)}")
        return 2
    deadline = time.monotonic() + SCHEMA_WAIT_SECONDS
    while not is_at_head(settings.database_url):
        if time.monotonic() > deadline:
            _err("the database schema is not up to date; run `support-desk db upgrade` (or start the API) first")
            return 1
        time.sleep(1.0)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = make_celery(settings)
    concurrency = args.concurrency or (8 if args.pool == "threads" else None)
    factory = load_factory(args.crew_factory) if args.crew_factory else real_crew
    # A prefork child runs one job at a time; a threads worker runs `concurrency` in one process.
    jobs_at_once = 1 if args.pool == "prefork" else int(concurrency or 1)
    context = WorkerContext(settings, app, factory, jobs_at_once=jobs_at_once)
    app.support_desk = context  # type: ignore[attr-defined]
    if "crew" in queues:
        if args.pool == "prefork":
            from celery.signals import worker_process_init

            # Each child builds its own crew and engine after the fork (never inherited across it).
            worker_process_init.connect(lambda **_: context.runtime(), weak=False)
        else:
            context.runtime()  # threads: one process, built before the first task
    # The recovery sweep runs here too, so accepted cases are finished while no API process is up. Started once
    # the pool is up: prefork children are forked before this thread exists.
    recovery = recovery_loop(settings, app)
    worker_ready.connect(lambda **_: recovery.start(), weak=False)
    hostname = args.hostname or f"support-desk-{'-'.join(queues)}@{socket.gethostname()}"
    node = app.Worker(
        hostname=hostname,
        pool_cls=args.pool,
        concurrency=concurrency,
        queues=queues,
        loglevel=settings.log_level.upper(),
        task_events=args.events,
        quiet=True,
    )
    try:
        node.start()
    finally:
        recovery.stop()
    return int(node.exitcode or 0)
