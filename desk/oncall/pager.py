"""The `EscalationHook` behind `create_app`: an emergency case becomes an outbox row before anything else.

The support flow calls `on_emergency` right after the case is stored and before the crew runs. The page is
committed here (durable: a crash after this line still pages, from whichever process starts next) and
the worker is woken to post it now; the HTTP call never runs on the request's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from desk.audit import AuditLog
from desk.models import Case, utcnow
from desk.oncall import outbox
from desk.oncall.models import Page

logger = logging.getLogger(__name__)


def record_page_queued(
    audit: AuditLog, page: Page, *, actor: str, customer_id: str | None = None, **extra: object
) -> None:
    """The audit line of a page entering the outbox, whoever queued it (request, re-page, sweeps)."""
    audit.record(
        "oncall_page_queued",
        actor=actor,
        role="system",
        case_id=page.case_id,
        customer_id=customer_id,
        page_id=page.id,
        target=page.target,
        series=page.series,
        reason=page.reason,
        **extra,
    )


class OutboxPager:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        audit: AuditLog,
        wake: Callable[[], None],
        *,
        max_repages: int = 0,
    ) -> None:
        self.session_factory = session_factory
        self.max_repages = max_repages
        self.audit = audit
        self.wake = wake

    def on_emergency(self, case_id: str, *, customer_id: str, auto: bool) -> bool:
        try:
            with self.session_factory.begin() as session:
                if auto:
                    # The support flow stores the case as an emergency; that the desk decided so is ours to say.
                    session.execute(update(Case).where(Case.id == case_id).values(auto_emergency=True))
                page = outbox.open_escalation(session, case_id, auto=auto, now=utcnow(), max_repages=self.max_repages)
        except SQLAlchemyError:
            # Not raised to the customer: the case is stored as an escalated emergency, so the worker's
            # reconcile sweep pages it within seconds, and the customer still gets the emergency reply.
            logger.exception("case %s: the page could not be written; the reconcile sweep will page it", case_id)
            return False
        record_page_queued(self.audit, page, actor="oncall-pager", customer_id=customer_id)
        self.wake()
        return True
