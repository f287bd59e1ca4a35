"""The Celery side of jobs: the app, its two queues and tasks, and what each worker process builds once.

    crew     `support_desk.answer(job_id)`: one crew run (desk/jobs/runner.py)
    paging   `support_desk.deliver_page(page_id)`: one delivery attempt of one on-call page, retried with
             Celery's retry and the outbox's backoff (desk/oncall/tasks.py)

Settings (README, "Workers and jobs"): late acknowledgement and reject-on-worker-lost (a task whose process
died is delivered again), prefetch 1 (a worker takes the next task only when a process is free), a visibility
timeout longer than the hard time limit (Redis redelivers a task not acknowledged within it), JSON only, no
result backend (the job row is the result). A `redis://` broker uses kombu's Redis transport with one command
client per channel (desk/jobs/redis_transport.py). A task message only names its row, so a duplicate delivery
finds the row claimed or done and does nothing.

A worker process builds its runtime (engine, crew, pager, lease keeper) once, after the fork: a prefork child
on `worker_process_init`, a thread-pool worker before it starts. The crew is built per process, never
shared across a fork (CrewAI's event bus is a process singleton with its own threads).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crew.models import SupportCrew
from desk.jobs import redis_transport, runner
from desk.jobs.events import JobEvent, RedisEvents
from desk.oncall.tasks import PAGE_TASK, PAGING_QUEUE, PagingRuntime, deliver_page
from desk.settings import Settings

if TYPE_CHECKING:
    from celery import Celery, Task

    from desk.jobs.recovery import RecoveryLoop

logger = logging.getLogger(__name__)

ANSWER_TASK = "support_desk.answer"
CREW_QUEUE = "crew"
QUEUES = (CREW_QUEUE, PAGING_QUEUE)
# A job process keeps at most this many database connections however many threads run jobs: each job holds
# one only in short transactions.
JOB_POOL_CAP = 10

CrewFactory = Callable[[Settings], SupportCrew]


def real_crew(settings: Settings) -> SupportCrew:
    from crew.service import SupportDesk
    from desk.injection_guard import hosted_policy  # guard: redaction and canary of hosted calls

    return SupportDesk.from_config(settings.crew_config(), hosted_policy=hosted_policy(settings))


def load_factory(target: str) -> CrewFactory:
    """`module:function` -> the function (the worker's `--crew-factory`, for tests and benchmarks)."""
    module_name, _, name = target.partition(":")
    factory: CrewFactory = getattr(importlib.import_module(module_name), name)
    return factory


def make_celery(settings: Settings) -> Celery:
    from celery import Celery
    from kombu import Queue

    app = Celery("support_desk", broker=settings.celery_broker_url, set_as_current=False)
    if urlsplit(settings.celery_broker_url).scheme in redis_transport.SCHEMES:
        app.conf.broker_transport = redis_transport.TRANSPORT
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": int(settings.celery_visibility_timeout_seconds)},
        task_time_limit=int(settings.job_time_limit_seconds),
        task_ignore_result=True,
        # No result backend (the disabled one): share it instead of building one per thread (each build scans
        # every installed package's entry points), as the API's thread pool grows and shrinks.
        result_backend_thread_safe=True,
        task_serializer="json",
        accept_content=["json"],
        task_queues=(Queue(CREW_QUEUE), Queue(PAGING_QUEUE)),
        task_default_queue=CREW_QUEUE,
        task_routes={ANSWER_TASK: {"queue": CREW_QUEUE}, PAGE_TASK: {"queue": PAGING_QUEUE}},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    app.task(name=ANSWER_TASK, bind=True)(_answer)
    app.task(name=PAGE_TASK, bind=True, max_retries=None)(deliver_page)
    app.support_desk_paging = PagingRuntime(settings)  # type: ignore[attr-defined]
    return app


def _declare(app: Celery) -> list[Any] | None:
    """What each publish declares first: Celery's default (None: the target queue) for RabbitMQ, where a message
    sent to a queue that does not exist yet is dropped. On Redis (the transport `make_celery` chose for it) the
    default exchange pushes the message straight onto the queue's list, so the declaration (cached, but its
    entities bound and copied on every publish) does nothing; `[]` skips it."""
    return [] if app.conf.broker_transport == redis_transport.TRANSPORT else None


def send_answer(app: Celery, job_id: str) -> None:
    """Queue one crew run of the job row `job_id` on the `crew` queue (the API's hand-off and the sweeps)."""
    # argsrepr/kwargsrepr: the message's readable copy of its arguments, which Celery otherwise builds with its
    # recursive saferepr for every message.
    app.send_task(
        ANSWER_TASK,
        args=[job_id],
        queue=CREW_QUEUE,
        argsrepr=repr([job_id]),
        kwargsrepr="{}",
        declare=_declare(app),
    )


def _answer(task: Task, job_id: str) -> None:
    context: WorkerContext | None = getattr(task.app, "support_desk", None)
    if context is None:
        raise RuntimeError("the support-desk worker context is not set on this Celery app")
    runner.run(context.runtime(), job_id)


class WorkerContext:
    """What one worker process builds once (lazily, under a lock): its intake, publisher and lease keeper."""

    def __init__(
        self, settings: Settings, app: Celery, crew_factory: CrewFactory = real_crew, *, jobs_at_once: int = 1
    ) -> None:
        self.settings = settings
        self.app = app
        self.crew_factory = crew_factory
        self.jobs_at_once = jobs_at_once  # 1 per prefork child; the thread count with --pool threads
        self._lock = threading.Lock()
        self._runtime: runner.Runtime | None = None
        self._keeper: runner.LeaseKeeper | None = None
        self.paging: Any = None

    def runtime(self) -> runner.Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = self._build()
            return self._runtime

    def _build(self) -> runner.Runtime:
        from desk import intake
        from desk.articles import Articles
        from desk.audit import AuditLog
        from desk.db import make_session_factory, process_engine
        from desk.jobs import store
        from desk.language import LanguageGuesser
        from desk.oncall.pager import OutboxPager
        from desk.oncall.tasks import CeleryPageDispatcher
        from desk.ratelimit import RateLimits

        settings = self.settings
        # +1: the lease keeper renews every running job's lease from its own thread.
        engine = process_engine(settings, needed=min(self.jobs_at_once + 1, JOB_POOL_CAP))
        session_factory = make_session_factory(engine)
        audit = AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain)
        self.paging = CeleryPageDispatcher(settings, session_factory, self.app)
        hook = OutboxPager(session_factory, audit, self.paging.dispatch_due, max_repages=settings.oncall_max_repages)
        limits = RateLimits(settings.rate_limit_storage_uri, settings.rate_limit_per_minute, settings.login_rate_limit)
        desk = intake.Intake(
            engine, settings, self.crew_factory(settings), limits, audit, hook, LanguageGuesser(), Articles()
        )
        owner = runner.new_owner("worker")
        lease = timedelta(seconds=settings.job_lease_seconds)
        self._keeper = runner.LeaseKeeper(lambda: store.renew(engine, owner, lease), settings.job_lease_seconds / 3)
        self._keeper.start()
        url = settings.events_url()
        publish: Callable[[JobEvent], None] = RedisEvents(url).publish if url else _no_events
        logger.info("worker runtime ready (%s)", owner)
        return runner.Runtime(desk, publish, owner)


def recovery_loop(settings: Settings, app: Celery) -> RecoveryLoop:
    """The recovery sweep for a worker's main process (desk/jobs/recovery.py): re-queued jobs go to the broker."""
    from desk.audit import AuditLog
    from desk.db import process_engine
    from desk.jobs.recovery import JobRecovery, RecoveryLoop

    engine = process_engine(settings, needed=1)  # one sweep thread
    url = settings.events_url()
    recovery = JobRecovery(
        engine,
        AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain),
        RedisEvents(url).publish if url else _no_events,
        lambda job_id: send_answer(app, job_id),
        max_attempts=settings.job_max_attempts,
        queued_owner=None,
        queued_lease=timedelta(seconds=settings.job_queue_timeout_seconds),
        actor="worker-job-sweep",
    )
    return RecoveryLoop(recovery.sweep, settings.job_sweep_seconds)


def _no_events(event: JobEvent) -> None:
    """No Redis for events: API processes read outcomes from the jobs table."""
