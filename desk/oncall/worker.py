"""The delivery worker: one thread per API process that drains the outbox and keeps escalations moving.

Each tick it
1. re-pages cases nobody acknowledged within the ack timeout (then the secondary webhook, once),
2. sends the secondary page for cases whose primary receiver has been unreachable for an ack timeout,
3. now and then pages emergency cases that have no paging state (see `outbox.unpaged_emergencies`),
4. claims due pages (atomic UPDATE with a lease, so several processes never deliver the same attempt) and
   posts them on a small thread pool, so one slow receiver does not hold up the others.

The pager wakes it right after writing a page, so a page leaves within milliseconds. Otherwise it sleeps until
the outbox's next due instant (a retry, a lapsing claim, a re-page: `outbox.next_due_at`), and at most
ONCALL_WORKER_POLL_SECONDS, which bounds how late it sees what other processes wrote. A page stays in the
outbox until a receiver answers 2xx: failures are retried with exponential backoff and jitter
(`policy.retry_delay`), across restarts, for ever.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desk.audit import AuditLog
from desk.models import Case, utcnow
from desk.oncall import outbox
from desk.oncall.delivery import Outcome, WebhookSender
from desk.oncall.models import Page, PageReason, PageTarget
from desk.oncall.pager import record_page_queued
from desk.oncall.payload import build_payload
from desk.oncall.policy import retry_delay
from desk.settings import Settings

logger = logging.getLogger(__name__)

DELIVERY_THREADS = 8
ACTOR = "oncall-worker"
# Emergencies older than this are not paged by the reconcile sweep: after an outage of the desk itself
# longer than the urgent response time (KB-031), the on-call queue, not a burst of stale pages, is the way in.
RECONCILE_WINDOW = timedelta(hours=1)
RECONCILE_GRACE = timedelta(seconds=5)
RECONCILE_EVERY_SECONDS = 5.0


class PageDispatcher(Protocol):
    def dispatch_due(self) -> int: ...


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: sessionmaker[Session],
        audit: AuditLog,
        sender_factory: Callable[[], WebhookSender],
        reconcile: bool,
        clock: Callable[[], datetime] = utcnow,
        dispatcher: PageDispatcher | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.audit = audit
        self.sender_factory = sender_factory
        self.reconcile = reconcile
        self.clock = clock
        self.dispatcher = dispatcher
        self.worker_id = new_worker_id()
        # The lease outlives any one attempt (httpx's timeout applies per phase), so a live worker's claim
        # never expires under it; a dead worker's claim is taken over after it.
        self.lease = timedelta(seconds=3 * settings.oncall_delivery_timeout_seconds + 10)
        self._rng = random.Random()  # jitter only, not a secret
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._sender: WebhookSender | None = None
        self._in_flight: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._last_reconcile = 0.0

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._sender = self.sender_factory()
        self._pool = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="oncall-delivery")
        self._thread = threading.Thread(target=self._run, name="oncall-worker", daemon=True)
        self._thread.start()
        logger.info(
            "on-call worker %s started (webhook %s)",
            self.worker_id,
            "configured" if self.settings.oncall_webhook_url else "not configured: pages stay in the outbox",
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling, let deliveries in flight finish, and hand unfinished claims back at once."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._sender is not None:
            self._sender.close()
        with self.session_factory.begin() as session:
            released = outbox.release_claims(session, self.worker_id)
        if released:
            logger.info("on-call worker %s released %d claimed pages", self.worker_id, released)
        self._thread = self._pool = self._sender = None

    def wake(self) -> None:
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.settings.oncall_worker_poll_seconds
            try:
                self.tick()
                wait = self.idle_seconds()
            except Exception:
                # The loop must outlive any one bad tick (database briefly locked or away): pages wait in
                # the outbox and the next tick retries. The traceback goes to the log.
                logger.exception("on-call worker tick failed; retrying")
            self._wake.wait(wait)

    def idle_seconds(self) -> float:
        """How long to sleep after a tick: until the outbox's next due instant, at most the poll interval."""
        poll = self.settings.oncall_worker_poll_seconds
        targets = self._targets()
        now = self.clock()
        with self.session_factory() as session:
            due = outbox.next_due_at(session, targets=targets)
        return poll if due is None else min(poll, max(0.0, (due - now).total_seconds()))

    def tick(self) -> None:
        now = self.clock()
        self._repage(now)
        self._try_secondary(now)
        if self.reconcile and time.monotonic() - self._last_reconcile >= RECONCILE_EVERY_SECONDS:
            self._last_reconcile = time.monotonic()
            self._page_unpaged(now)
        self._dispatch(now)

    def _targets(self) -> list[PageTarget]:
        targets = []
        if self.settings.oncall_webhook_url:
            targets.append(PageTarget.PRIMARY)
        if self.settings.oncall_secondary_webhook_url:
            targets.append(PageTarget.SECONDARY)
        return targets

    def _url(self, target: str) -> str:
        if target == PageTarget.SECONDARY.value:
            return self.settings.oncall_secondary_webhook_url
        return self.settings.oncall_webhook_url

    # --- escalation --------------------------------------------------------------------------------------
    def _repage(self, now: datetime) -> None:
        with self.session_factory() as session:
            due = outbox.due_for_repage(session, now)
        for state in due:
            if state.repages < self.settings.oncall_max_repages:
                self._add_page(
                    state.case_id,
                    partial(outbox.take_repage, state=state, now=now),
                    series=state.repages + 1,
                    target=PageTarget.PRIMARY,
                    reason=PageReason.REPAGE,
                    now=now,
                )
            elif self.settings.oncall_secondary_webhook_url and not state.secondary_paged:
                self._page_secondary(state.case_id, now)
            else:
                with self.session_factory.begin() as session:
                    stopped = outbox.stop_clock(session, state.case_id, now=now)
                if stopped:
                    logger.warning(
                        "case %s: no acknowledgement after %d repages and no secondary webhook left",
                        state.case_id,
                        state.repages,
                    )
                    self.audit.record(
                        "oncall_paging_exhausted",
                        actor=ACTOR,
                        role="system",
                        case_id=state.case_id,
                        repages=state.repages,
                    )

    def _try_secondary(self, now: datetime) -> None:
        if not self.settings.oncall_secondary_webhook_url:
            return
        stalled_for = timedelta(seconds=self.settings.oncall_ack_timeout_seconds)
        with self.session_factory() as session:
            case_ids = outbox.stalled_primary_cases(session, now=now, stalled_for=stalled_for)
        for case_id in case_ids:
            logger.warning(
                "case %s: primary webhook unreachable for %.0f s; paging the secondary",
                case_id,
                stalled_for.total_seconds(),
            )
            self._page_secondary(case_id, now)

    def _page_secondary(self, case_id: str, now: datetime) -> None:
        # Series after every primary one, so the key stays unique whatever happened before.
        self._add_page(
            case_id,
            partial(outbox.take_secondary, case_id=case_id, now=now),
            series=self.settings.oncall_max_repages + 1,
            target=PageTarget.SECONDARY,
            reason=PageReason.SECONDARY,
            now=now,
        )

    def _add_page(
        self,
        case_id: str,
        take: Callable[[Session], bool],
        *,
        series: int,
        target: PageTarget,
        reason: PageReason,
        now: datetime,
    ) -> None:
        """Advance the case's state and add the page in one transaction; skip if another process did it."""
        try:
            with self.session_factory.begin() as session:
                if not take(session):
                    return
                page = outbox.new_page(case_id, series=series, target=target, reason=reason, now=now)
                session.add(page)
        except IntegrityError:
            logger.info("case %s: %s page %d already queued by another worker", case_id, target.value, series)
            return
        record_page_queued(self.audit, page, actor=ACTOR)

    def _page_unpaged(self, now: datetime) -> None:
        with self.session_factory() as session:
            cases = outbox.unpaged_emergencies(session, now=now, grace=RECONCILE_GRACE, window=RECONCILE_WINDOW)
        for case in cases:
            try:
                with self.session_factory.begin() as session:
                    page = outbox.open_escalation(session, case.id, auto=case.auto_emergency, now=now)
            except IntegrityError:
                continue  # paged meanwhile by the request itself or another process
            logger.warning("case %s: emergency had no page; queued one now", case.id)
            record_page_queued(self.audit, page, actor=ACTOR, customer_id=case.customer_id, recovered=True)

    # --- delivery ----------------------------------------------------------------------------------------
    def _dispatch(self, now: datetime) -> None:
        if self.dispatcher is not None:
            # A broker is configured: delivery attempts are Celery tasks on the `paging` queue.
            self.dispatcher.dispatch_due()
            return
        pool = self._pool
        if pool is None:
            return
        with self._lock:
            free = DELIVERY_THREADS - len(self._in_flight)
        with self.session_factory() as session:
            candidates = outbox.due_page_ids(session, targets=self._targets(), now=now, limit=free)
        for page_id in candidates:
            with self.session_factory.begin() as session:
                if not outbox.claim(session, page_id, worker_id=self.worker_id, now=now, lease=self.lease):
                    continue  # another process took it
            future = pool.submit(self._deliver_logged, page_id)
            with self._lock:
                self._in_flight.add(future)
            future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)
        # A slot is free: look for more due pages without waiting for the poll interval.
        self._wake.set()

    def _deliver_logged(self, page_id: str) -> None:
        try:
            self.deliver(page_id)
        except Exception:
            # The claim lapses with its lease and the page is retried; nothing is lost.
            logger.exception("delivery of page %s failed unexpectedly", page_id)

    def deliver(self, page_id: str) -> None:
        """One attempt of one claimed page. No database connection is held during the HTTP call."""
        sender = self._sender
        assert sender is not None, "deliver() runs only while the worker is started"
        self.attempt(page_id, holder=self.worker_id, sender=sender)

    def attempt(
        self, page_id: str, *, holder: str, sender: WebhookSender, hold_for_retry: bool = False
    ) -> float | None:
        """One attempt of one page claimed by `holder`: None when delivered (or gone), else the seconds until the
        next attempt. `hold_for_retry` (a Celery task that retries itself): the claim stays the holder's until
        then, so the outbox sweep does not send a second task for the same page."""
        with self.session_factory() as session:
            page = session.get(Page, page_id)
            case = session.get(Case, page.case_id) if page is not None else None
        if page is None or case is None:
            return None
        payload = build_payload(case, page, public_base_url=self.settings.public_base_url, sent_at=self.clock())
        started = time.perf_counter()
        outcome = sender.send(self._url(page.target), payload, idempotency_key=page.idempotency_key)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        now = self.clock()
        if outcome.delivered:
            self._record_delivered(page, case, outcome, now, latency_ms, holder)
            return None
        return self._record_failed(page, case, outcome, now, holder, hold_for_retry)

    def _record_delivered(
        self, page: Page, case: Case, outcome: Outcome, now: datetime, latency_ms: float, holder: str
    ) -> None:
        ack_timeout = timedelta(seconds=self.settings.oncall_ack_timeout_seconds)
        with self.session_factory.begin() as session:
            won = outbox.record_delivery(session, page, outcome, worker_id=holder, now=now, ack_timeout=ack_timeout)
        if not won:
            logger.warning(
                "page %s delivered after its claim lapsed; the receiver de-duplicates by %s",
                page.id,
                page.idempotency_key,
            )
        self._record_attempt("oncall_page_sent", page, case, status_code=outcome.status_code, latency_ms=latency_ms)

    def _record_failed(
        self, page: Page, case: Case, outcome: Outcome, now: datetime, holder: str, hold_for_retry: bool
    ) -> float:
        delay = retry_delay(
            page.attempts + 1,
            base=self.settings.oncall_retry_base_seconds,
            cap=self.settings.oncall_retry_max_seconds,
            rng=self._rng,
        )
        with self.session_factory.begin() as session:
            outbox.record_failure(
                session,
                page,
                outcome,
                worker_id=holder,
                now=now,
                retry_in=timedelta(seconds=delay),
                hold_until=now + timedelta(seconds=delay) + self.lease if hold_for_retry else None,
            )
        logger.warning(
            "page %s (case %s, %s) attempt %d failed: %s; retrying in %.2f s",
            page.id,
            case.id,
            page.target,
            page.attempts + 1,
            outcome.error,
            delay,
        )
        self._record_attempt(
            "oncall_page_failed",
            page,
            case,
            error=outcome.error,
            status_code=outcome.status_code,
            retry_in_seconds=round(delay, 3),
        )
        return delay

    def _record_attempt(self, event: str, page: Page, case: Case, **fields: object) -> None:
        """The audit line of one delivery attempt of a page, sent or failed."""
        self.audit.record(
            event,
            actor=ACTOR,
            role="system",
            case_id=case.id,
            customer_id=case.customer_id,
            page_id=page.id,
            target=page.target,
            series=page.series,
            attempt=page.attempts + 1,
            **fields,
        )
