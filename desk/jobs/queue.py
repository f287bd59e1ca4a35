"""What the intake needs from wherever the crew's jobs run (`JobQueue`), and the embedded one.

Queued jobs are held by someone, like running ones: the embedded pool of one API process holds its queued jobs
(and renews their leases), so a dead API process's jobs are found and re-queued by another process; a broker
holds none (`queued_owner` None) and a queued job is sent again only after JOB_QUEUE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Protocol

from desk.jobs import runner
from desk.jobs.events import EventHub, JobEvent, Publish, Waiter

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    queued_owner: str | None
    queued_lease: timedelta

    def submit(self, job_id: str) -> None: ...

    def expect(self, job_id: str) -> Waiter: ...

    def publish(self, event: JobEvent) -> None: ...


class EmbeddedQueue:
    """The default without a broker: the runner on a bounded thread pool of this process."""

    kind = "embedded"

    def __init__(
        self,
        runtime: Callable[[], runner.Runtime],
        *,
        threads: int,
        owner: str,
        lease: timedelta,
        hub: EventHub,
        publish: Publish,
    ) -> None:
        self._runtime = runtime
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="crew-job")
        self.threads = threads
        self.queued_owner: str | None = owner
        self.queued_lease = lease
        self.hub = hub
        self._publish = publish

    def submit(self, job_id: str) -> None:
        self._pool.submit(self._run, job_id)

    def expect(self, job_id: str) -> Waiter:
        return self.hub.expect(job_id)

    def publish(self, event: JobEvent) -> None:
        self._publish(event)

    def _run(self, job_id: str) -> None:
        try:
            runner.run(self._runtime(), job_id)
        except Exception:
            # Its lease lapses and the recovery sweep gives it another run; the traceback goes to the log.
            logger.exception("job %s failed unexpectedly", job_id)

    def shutdown(self) -> None:
        # Jobs not started yet stay queued in the table; their leases lapse and another process runs them.
        self._pool.shutdown(wait=False, cancel_futures=True)
