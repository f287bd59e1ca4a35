"""The recovery sweep: jobs whose holder died (or whose message was lost) are sent again, or, after
JOB_MAX_ATTEMPTS runs, failed into the people's queue; expired Idempotency-Keys are deleted.

It runs in every API process (`JobService`) and, with a broker, in every `support-desk worker` main process
too (`RecoveryLoop`), so cases are recovered while any process of the desk is up: a deployment whose API
processes are all down still finishes what it accepted. Every step is a guarded UPDATE, so any number of
sweepers at once re-queue or fail a job exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from desk.audit import AuditLog
from desk.jobs import store
from desk.jobs.events import JobEvent, Publish
from desk.jobs.outcome import load
from desk.models import CaseStatus

logger = logging.getLogger(__name__)
ABANDONED = "job_attempts_exhausted"
PURGE_EVERY_SECONDS = 300.0


@dataclass
class JobRecovery:
    """One process's sweeper. `submit` sends a job again (to its in-process pool or to the broker);
    `queued_owner` / `queued_lease`: what a re-queued job row holds until a runner claims it."""

    engine: Engine
    audit: AuditLog
    publish: Publish
    submit: Callable[[str], None]
    max_attempts: int
    queued_owner: str | None
    queued_lease: timedelta
    actor: str = "job-sweep"
    _last_purge: float = field(default=0.0, init=False)

    def sweep(self) -> dict[str, int]:
        counts = {"requeued": 0, "failed": 0}
        for job in store.expired(self.engine):
            if job.attempts >= self.max_attempts:
                counts["failed"] += self._give_up(job)
            elif store.requeue(self.engine, job.id, owner=self.queued_owner, lease=self.queued_lease):
                counts["requeued"] += 1
                logger.warning(
                    "job %s (case %s, %d runs so far) was abandoned; queued again", job.id, job.case_id, job.attempts
                )
                self.audit.record(
                    "job_requeued",
                    actor=self.actor,
                    role="system",
                    case_id=job.case_id,
                    job_id=job.id,
                    attempts=job.attempts,
                )
                self.submit(job.id)
        if time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS:
            from desk import idempotency

            idempotency.purge_expired(self.engine)
            self._last_purge = time.monotonic()
        return counts

    def _give_up(self, job: store.Abandoned) -> int:
        if not store.give_up(self.engine, job, error_code=ABANDONED, case_status=CaseStatus.NEEDS_HUMAN):
            return 0
        logger.warning(
            "job %s (case %s): %d runs died; the case is in the people's queue", job.id, job.case_id, job.attempts
        )
        self.audit.record(
            "job_abandoned", actor=self.actor, role="system", case_id=job.case_id, job_id=job.id, attempts=job.attempts
        )
        found = load(self.engine, job.id)
        if found is not None:
            self.publish(
                JobEvent("failed", job.case_id, job.id, {"outcome": found.to_json(), "status": found.case["status"]})
            )
        return 1


class RecoveryLoop:
    """`sweep` every `every` seconds on a daemon thread, until `stop`; a failed sweep is logged and retried.
    A worker's main process runs `JobRecovery.sweep` on it, an API process its `JobService` turn."""

    def __init__(self, sweep: Callable[[], object], every: float, name: str = "job-sweep") -> None:
        self._sweep = sweep
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(10.0)

    def _run(self) -> None:
        while True:
            try:
                self._sweep()
            except Exception:
                # The next sweep retries; abandoned jobs wait in the table meanwhile.
                logger.exception("job recovery sweep failed; retrying")
            if self._stop.wait(self._every):
                return
