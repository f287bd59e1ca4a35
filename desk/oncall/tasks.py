"""On-call delivery on Celery (when CELERY_BROKER_URL is set).

The outbox rows stay the source of truth. `CeleryPageDispatcher.dispatch_due` (called by the pager right
after it writes a page, and by each API process's outbox sweep) claims every due page for a new task id and
sends `support_desk.deliver_page(page_id)` to the `paging` queue; the claim (holder `celery:<task id>`)
means the sweep sends it once. The task makes one attempt (`DeliveryWorker.attempt`); on failure it keeps
the claim and retries itself with Celery's `retry(countdown=...)` after the outbox's backoff (exponential,
capped, jittered). Celery keeps the task id across retries, so the retry still holds the page. If the
worker dies with the retry in its memory, the claim lapses and the sweep sends a new task; a stale one
that comes back later finds the page held by another task (or delivered) and does nothing. Receivers
de-duplicate by the page's idempotency key either way, so a page is never lost and never doubled.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from desk.models import utcnow
from desk.oncall import outbox
from desk.oncall.models import PageTarget
from desk.settings import Settings

if TYPE_CHECKING:
    from celery import Celery, Task

    from desk.oncall.worker import DeliveryWorker

logger = logging.getLogger(__name__)
PAGE_TASK = "support_desk.deliver_page"
PAGING_QUEUE = "paging"
# Page deliveries hold a connection only to read and mark outbox rows.
PAGING_POOL_SIZE = 5
# How long a dispatched page may wait in the paging queue before the sweep sends another task for it.
DISPATCH_LEASE = timedelta(seconds=60)


def holder_of(task_id: str) -> str:
    return f"celery:{task_id}"


class CeleryPageDispatcher:
    """Sends due pages to the `paging` queue, each once (claimed for its task before it is sent)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], app: Celery) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.app = app

    def targets(self) -> list[PageTarget]:
        found = []
        if self.settings.oncall_webhook_url:
            found.append(PageTarget.PRIMARY)
        if self.settings.oncall_secondary_webhook_url:
            found.append(PageTarget.SECONDARY)
        return found

    def dispatch_due(self) -> int:
        now = utcnow()
        with self.session_factory() as session:
            due = outbox.due_page_ids(session, targets=self.targets(), now=now, limit=100)
        sent = 0
        for page_id in due:
            task_id = uuid.uuid4().hex
            with self.session_factory.begin() as session:
                if not outbox.claim(session, page_id, worker_id=holder_of(task_id), now=now, lease=DISPATCH_LEASE):
                    continue  # another process dispatched it
            self.app.send_task(PAGE_TASK, args=[page_id], task_id=task_id, queue=PAGING_QUEUE)
            sent += 1
        return sent


class PagingRuntime:
    """What a worker process needs to deliver pages (no crew): built once, on the first paging task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._worker: DeliveryWorker | None = None
        self._sender: Any = None

    def get(self) -> tuple[DeliveryWorker, Any]:
        with self._lock:
            if self._worker is None:
                from desk.audit import AuditLog
                from desk.db import make_session_factory, process_engine
                from desk.oncall.delivery import WebhookSender
                from desk.oncall.worker import DeliveryWorker

                settings = self.settings
                engine = process_engine(settings, needed=PAGING_POOL_SIZE)
                audit = AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain)
                secret = settings.oncall_webhook_secret.get_secret_value()
                self._sender = WebhookSender(secret, settings.oncall_delivery_timeout_seconds)
                self._worker = DeliveryWorker(
                    settings=settings,
                    session_factory=make_session_factory(engine),
                    audit=audit,
                    sender_factory=lambda: self._sender,
                    reconcile=False,
                )
            return self._worker, self._sender


def deliver_page(task: Task, page_id: str) -> None:
    """One attempt of one page; on failure, Celery's retry after the outbox's backoff."""
    runtime: PagingRuntime | None = getattr(task.app, "support_desk_paging", None)
    if runtime is None:
        raise RuntimeError("the paging runtime is not set on this Celery app")
    worker, sender = runtime.get()
    holder = holder_of(str(task.request.id))
    with worker.session_factory.begin() as session:
        if not outbox.take(session, page_id, holder=holder, now=utcnow(), lease=worker.lease):
            logger.info("page %s: delivered, cancelled or held by another task; nothing to do", page_id)
            return
    delay = worker.attempt(page_id, holder=holder, sender=sender, hold_for_retry=True)
    if delay is not None:
        raise task.retry(countdown=delay)
