"""`JobService`: the jobs side of one API app, built by `create_app` and started and stopped by its lifespan.

no broker   `EmbeddedQueue`: the runner on a bounded pool in this process; its queued and running jobs
            are held by this process, whose lease keeper renews them
broker      `BrokerQueue`: `support_desk.answer(job_id)` to the `crew` queue of the Celery workers
both        the event hub (waiters and case streams), the recovery sweep (desk/jobs/recovery.py, every
            JOB_SWEEP_SECONDS; workers run it too) and a health snapshot (broker, workers, queue depth) for /readyz
            and /support/status, refreshed by the same thread so a probe never waits on the broker
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from desk.audit import AuditLog
from desk.jobs import runner, store
from desk.jobs.broker import QUEUES, make_celery, send_answer
from desk.jobs.events import EventHub, JobEvent, Publish, RedisEvents, Waiter
from desk.jobs.queue import EmbeddedQueue
from desk.jobs.recovery import JobRecovery, RecoveryLoop
from desk.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from desk.intake import Intake

logger = logging.getLogger(__name__)
HEALTH_EVERY_SECONDS = 5.0


class BrokerQueue:
    """Jobs to the Celery workers: the message only names the job row."""

    kind = "celery"

    def __init__(self, app: Celery, hub: EventHub, publish: Publish, queued_lease: timedelta) -> None:
        self.app = app
        self.hub = hub
        self._publish = publish
        self.queued_owner: str | None = None
        self.queued_lease = queued_lease

    def submit(self, job_id: str) -> None:
        send_answer(self.app, job_id)

    def expect(self, job_id: str) -> Waiter:
        return self.hub.expect(job_id)

    def publish(self, event: JobEvent) -> None:
        self._publish(event)

    def shutdown(self) -> None:
        """Nothing to stop: queued jobs wait in the broker."""


class JobService:
    def __init__(self, settings: Settings, engine: Engine, audit: AuditLog, intake: Callable[[], Intake]) -> None:
        self.settings = settings
        self.engine = engine
        self.audit = audit
        url = settings.events_url()
        self.redis_events = RedisEvents(url) if url else None
        # Without Redis for events a broker's outcomes are read from the jobs table.
        self.hub = EventHub(engine, poll=settings.uses_broker and self.redis_events is None)
        self.publish: Publish = self.redis_events.publish if self.redis_events is not None else self.hub.dispatch
        self.owner = runner.new_owner("api")
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.celery: Celery | None = None
        self.queue: EmbeddedQueue | BrokerQueue
        self.keeper: runner.LeaseKeeper | None = None
        if settings.uses_broker:
            self.celery = make_celery(settings)
            self.queue = BrokerQueue(
                self.celery, self.hub, self.publish, timedelta(seconds=settings.job_queue_timeout_seconds)
            )
        else:
            self._runtime: runner.Runtime | None = None
            self._intake = intake
            self.queue = EmbeddedQueue(
                self._embedded_runtime,
                threads=settings.job_threads or settings.crew_max_workers,
                owner=self.owner,
                lease=self.lease,
                hub=self.hub,
                publish=self.publish,
            )
            self.keeper = runner.LeaseKeeper(
                lambda: store.renew(engine, self.owner, self.lease), self.lease.seconds / 3
            )
        self.recovery = JobRecovery(
            engine,
            audit,
            self.publish,
            self.queue.submit,
            max_attempts=settings.job_max_attempts,
            queued_owner=self.queue.queued_owner,
            queued_lease=self.queue.queued_lease,
        )
        self._loop: RecoveryLoop | None = None
        self._health: dict[str, Any] = {"mode": self.mode}
        self._last_health = 0.0

    @property
    def mode(self) -> str:
        return "celery" if self.settings.uses_broker else "embedded"

    def _embedded_runtime(self) -> runner.Runtime:
        if self._runtime is None:
            self._runtime = runner.Runtime(self._intake(), self.publish, self.owner)
        return self._runtime

    # --- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.redis_events is not None:
            self.redis_events.start(self.hub)
        if self.keeper is not None:
            self.keeper.start()
        self._loop = RecoveryLoop(self._tick, self.settings.job_sweep_seconds)
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        self.queue.shutdown()
        if self.keeper is not None:
            self.keeper.stop()
        if self.redis_events is not None:
            self.redis_events.stop()

    def _tick(self) -> None:
        """One turn of the service's thread: the sweep, then (every HEALTH_EVERY_SECONDS) the health snapshot;
        a failure of either is logged and leaves the other to run."""
        try:
            self.sweep()
        except Exception:
            # The next sweep retries; abandoned jobs wait in the table meanwhile.
            logger.exception("job recovery sweep failed; retrying")
        try:
            if time.monotonic() - self._last_health >= HEALTH_EVERY_SECONDS:
                self._health = self.check_health()
                self._last_health = time.monotonic()
        except Exception:
            logger.exception("job health check failed")

    # --- recovery ----------------------------------------------------------------------------------------
    def sweep(self) -> dict[str, int]:
        """Re-queue abandoned jobs or fail them into the people's queue (desk/jobs/recovery.py)."""
        return self.recovery.sweep()

    # --- health --------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The last snapshot (never blocks a probe on the broker)."""
        return dict(self._health)

    def check_health(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {"mode": self.mode, "jobs": store.depth(self.engine)}
        if self.celery is None:
            snapshot["broker"] = "none"
            snapshot["threads"] = getattr(self.queue, "threads", None)
            return snapshot
        try:
            with self.celery.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                snapshot["queues"] = {name: _queue_depth(conn, name) for name in QUEUES}
            snapshot["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any transport error means the same to a probe: unreachable
            logger.warning("broker unreachable: %s", type(exc).__name__)
            snapshot["broker"] = "unreachable"
            return snapshot
        try:
            replies = self.celery.control.ping(timeout=1.0)
            snapshot["workers"] = sorted(name for reply in replies for name in reply)
        except Exception as exc:  # noqa: BLE001 - a failed ping reports no workers, never fails the sweep
            logger.warning("worker ping failed: %s", type(exc).__name__)
            snapshot["workers"] = []
        return snapshot


def _queue_depth(conn: Any, name: str) -> int:
    """Messages waiting in one broker queue (0 for a queue nobody declared yet). A passive declare on its own
    channel: on RabbitMQ a failed one closes the channel it ran on."""
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except Exception:  # noqa: BLE001 - Redis and AMQP raise different errors for a queue never declared
        return 0
    finally:
        try:
            channel.close()
        except Exception:
            logger.debug("closing the queue-depth channel failed", exc_info=True)
