"""`OncallService`: the pager, the delivery worker and the SLA sweeper of one app, built by `create_app` and
started and stopped by its lifespan (their threads never outlive the app)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from desk.audit import AuditLog
from desk.oncall.delivery import WebhookSender
from desk.oncall.pager import OutboxPager
from desk.oncall.worker import DeliveryWorker, PageDispatcher
from desk.settings import Settings
from desk.sla.sweeper import SlaSweeper

logger = logging.getLogger(__name__)


class OncallService:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        audit: AuditLog,
        *,
        reconcile: bool = True,
        dispatcher: PageDispatcher | None = None,
    ) -> None:
        """`reconcile=False` when another hook pages emergencies (the sweep would page them a second time).
        `dispatcher`: with a broker, delivery attempts are Celery tasks (desk/oncall/tasks.py); this process
        keeps the outbox sweep (re-pages, secondary, reconcile) and hands due pages to it."""
        self.settings = settings
        self.worker = DeliveryWorker(
            settings=settings,
            session_factory=session_factory,
            audit=audit,
            sender_factory=self._sender,
            reconcile=reconcile,
            dispatcher=dispatcher,
        )
        self.pager = OutboxPager(session_factory, audit, self.worker.wake, max_repages=settings.oncall_max_repages)
        # Reads the SLA policy file now, so a bad one stops the app at startup (desk.sla.policy.PolicyError).
        self.sla = SlaSweeper(settings, session_factory, audit, wake=self.worker.wake)

    def _sender(self) -> WebhookSender:
        secret = self.settings.oncall_webhook_secret.get_secret_value()
        if self.settings.oncall_webhook_url and not secret:
            logger.warning("ONCALL_WEBHOOK_SECRET is empty: pages are sent unsigned (allowed only in development)")
        return WebhookSender(secret, self.settings.oncall_delivery_timeout_seconds)

    def start(self) -> None:
        self.worker.start()
        if self.settings.sla_sweeper_enabled:
            self.sla.start()

    def stop(self) -> None:
        self.sla.stop()
        self.worker.stop()
