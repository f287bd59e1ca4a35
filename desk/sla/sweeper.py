"""The SLA sweeper: a thread per API process (started by `desk.oncall.service.OncallService`) that reads the
clocks of every case the desk owes a response and acts on their thresholds.

Each sweep (every SLA_SWEEP_SECONDS, and on demand in tests with a controllable clock):

1. watched cases: cases not waiting on the customer by their status alone (anything but `answered` and
   `resolved`), and answered or resolved cases whose last message is the customer's (`Case.last_author`),
   each with what its clocks are read from (status, last update, number of messages and of recorded status
   changes): one query on indexes. Only the cases that changed since this sweeper last read them, whose next
   threshold has come (a running clock's near-breach instant, then its deadline), or that it has not read
   for about REVISIT are read in full (history and clocks), and none younger than the shortest time any clock
   takes to its first threshold (`SlaPolicies.earliest_crossing`). A backlog of cases waiting for people therefore
   costs a sweep a row each, not a history each, and answered cases cost nothing; REVISIT bounds what no
   watched column shows (a customer's tier edited, a clock skewed);
2. for each clock that crossed its near-breach or breach threshold and has no event for it yet, one
   `case_events` row (kind `sla_near_breach` / `sla_breach`, `at` = the instant of the crossing, a unique key
   per case, clock, cycle and threshold), one audit line, and so one `sla` event on the case's event stream;
3. a *running* clock newly near breach hands the case to a person before it breaches:
   - a case the crew holds (`open`, `answered`, `failed`) goes to `needs_human` (a guarded UPDATE: only from
     the status it was read in; `queued`/`running` cases belong to the job machinery, which gives up to
     `needs_human` on its own) and is then paged like the next one;
   - a case with people (needs_human, escalated, acknowledged, in_progress) is re-paged through the on-call
     outbox: one page per clock and cycle, in a series above every other of the case (SLA_SERIES_BASE), so
     its idempotency key never repeats an emergency page, a re-page or a secondary page.
   The event row, the status change and the page are one transaction: of several processes sweeping at once,
   exactly one writes them (the others hit the unique key and roll back).

A crossing more than PAGE_WINDOW old (the desk was down, or the policy just changed) is recorded and still
handed to a person, but not paged: as with stale emergencies, the queue is the way in, not a burst of pages.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desk.audit import AuditLog
from desk.cases import WITH_PEOPLE
from desk.models import Author, Case, CaseEvent, CaseMessage, CaseStatus, utcnow
from desk.oncall.models import Page, PageReason, PageTarget
from desk.oncall.outbox import new_page
from desk.oncall.pager import record_page_queued
from desk.settings import Settings
from desk.sla.clock import CaseClocks, ClockReading, ClockState, case_clocks
from desk.sla.history import STATUS_EVENT, chunks, histories, status_event
from desk.sla.policy import SlaPolicies, policies_for

logger = logging.getLogger(__name__)

ACTOR = "sla-sweeper"
NEAR_BREACH = "sla_near_breach"
BREACH = "sla_breach"
SLA_EVENT_KINDS = (NEAR_BREACH, BREACH)
HANDOFF_REASON = "sla_near_breach"
# Statuses the sweeper may take a case out of (to needs_human): the crew holds it and nothing is running.
HANDOFF_FROM = (CaseStatus.OPEN.value, CaseStatus.ANSWERED.value, CaseStatus.FAILED.value)
PEOPLE = tuple(s.value for s in WITH_PEOPLE)
# SLA pages use series above this (and above the re-page and secondary series), see the module docstring.
SLA_SERIES_BASE = 100
PAGE_WINDOW = timedelta(hours=1)
# Each watched case is read in full at least this often (spread by +-25% so a backlog read at one sweep does not
# come back all at once), whatever its watched columns say.
REVISIT = timedelta(seconds=60)
# What a case's clocks are read from, as the watch query returns it: created_at (which never changes), status,
# updated_at, how many messages and how many recorded status changes it has.
Fingerprint = tuple[Any, ...]


def event_key(case_id: str, clock: str, cycle: int, kind: str) -> str:
    return f"{kind}:{case_id}:{clock}:{cycle}"


@dataclass
class SweepReport:
    events: int = 0
    handoffs: int = 0
    pages: int = 0
    cases: int = 0  # read in full
    watched: int = 0
    page_ids: list[str] = field(default_factory=list)


def watched(session: Session) -> dict[str, Fingerprint]:
    """Cases whose clocks may be running (see the module docstring), each with its fingerprint."""
    # Counts: both tables only grow per case, so a new message or status change always changes its count.
    messages = select(func.count()).where(CaseMessage.case_id == Case.id).correlate(Case)
    marks = select(func.count()).where(CaseEvent.case_id == Case.id, CaseEvent.kind == STATUS_EVENT).correlate(Case)
    # Both halves are index lookups (status; status and last author): a sweep reads the cases it watches, not
    # the desk's whole history of answered cases.
    waiting = (CaseStatus.ANSWERED.value, CaseStatus.RESOLVED.value)
    owed = [status.value for status in CaseStatus if status.value not in waiting]
    query = select(
        Case.id, Case.created_at, Case.status, Case.updated_at, messages.scalar_subquery(), marks.scalar_subquery()
    ).where(or_(Case.status.in_(owed), and_(Case.status.in_(waiting), Case.last_author == Author.CUSTOMER.value)))
    return {case_id: tuple(rest) for case_id, *rest in session.execute(query)}


def load_cases(session: Session, case_ids: list[str]) -> list[Case]:
    cases: list[Case] = []
    for chunk in chunks(case_ids):
        cases.extend(session.scalars(select(Case).where(Case.id.in_(chunk))))
    return cases


@dataclass(frozen=True)
class LastRead:
    """What a sweeper remembers of a case it read in full: its fingerprint then, and when to read it again."""

    fingerprint: Fingerprint
    again_at: datetime


def _known_keys(session: Session, case_ids: list[str]) -> set[str]:
    keys: set[str] = set()
    for chunk in chunks(case_ids):
        keys.update(
            k
            for k in session.scalars(
                select(CaseEvent.key).where(CaseEvent.case_id.in_(chunk), CaseEvent.kind.in_(SLA_EVENT_KINDS))
            )
            if k
        )
    return keys


@dataclass(frozen=True)
class Crossing:
    reading: ClockReading
    kind: str
    at: datetime

    @property
    def acts(self) -> bool:
        """A running clock newly near breach (or past it at once): time to hand the case to a person."""
        return self.kind == NEAR_BREACH and self.reading.state is ClockState.RUNNING


def crossings(clocks: CaseClocks, known: set[str]) -> list[Crossing]:
    found = []
    for reading in clocks.readings:
        for kind, crossed, at in (
            (NEAR_BREACH, reading.near_breach, reading.near_breach_at),
            (BREACH, reading.breached, reading.breached_at),
        ):
            if (
                crossed
                and at is not None
                and event_key(clocks.case_id, reading.clock, reading.cycle, kind) not in known
            ):
                found.append(Crossing(reading, kind, at))
    return found


def sla_page(session: Session, case_id: str, *, now: datetime, max_repages: int) -> Page:
    """A page for a case near an SLA deadline, in a fresh series above every other of the case."""
    highest = session.scalar(select(func.max(Page.series)).where(Page.case_id == case_id)) or 0
    series = max(highest, max_repages + 1, SLA_SERIES_BASE) + 1
    page = new_page(case_id, series=series, target=PageTarget.PRIMARY, reason=PageReason.SLA, now=now)
    session.add(page)
    return page


@dataclass(eq=False)
class SlaSweeper:
    settings: Settings
    session_factory: sessionmaker[Session]
    audit: AuditLog
    _: KW_ONLY
    # The delivery worker's wake-up: a re-page queued by a sweep leaves at once.
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utcnow
    policies: SlaPolicies | None = None  # None: the SLA_POLICY_FILE's
    _policies: SlaPolicies = field(init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _read: dict[str, LastRead] = field(default_factory=dict, init=False, repr=False)
    _spread: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def __post_init__(self) -> None:
        self._policies = self.policies or policies_for(
            self.settings.sla_policy_file, self.settings.sla_near_breach_ratio
        )

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sla-sweeper", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.sla_sweep_seconds):
            try:
                self.sweep()
            except Exception:
                # Like the delivery worker: one bad sweep (database briefly away) must not end the thread.
                logger.exception("SLA sweep failed; retrying")

    # --- one sweep -------------------------------------------------------------------------------------
    def sweep(self) -> SweepReport:
        now = self.clock()
        report = SweepReport()
        with self.session_factory() as session:
            watch = watched(session)
            due = [case_id for case_id, fingerprint in watch.items() if self._due(case_id, fingerprint, now)]
            cases = load_cases(session, due)
            found = histories(session, cases)
            known = _known_keys(session, due)
        self._read = {case_id: self._read[case_id] for case_id in watch.keys() & self._read.keys()}
        report.watched, report.cases = len(watch), len(cases)
        for case in cases:
            clocks = case_clocks(found[case.id], self._policies, now)
            new = crossings(clocks, known)
            if new:
                self._act(case, clocks, new, now, report)
            # Remembered only once acted on: a sweep that fails on a case reads it again next time.
            self._read[case.id] = LastRead(watch[case.id], self._again_at(clocks, now))
        if report.pages:
            self.wake()
        return report

    def _due(self, case_id: str, fingerprint: Fingerprint, now: datetime) -> bool:
        if now - fingerprint[0] < self._policies.earliest_crossing:
            # Too young to have crossed any threshold (fingerprint[0] is created_at): under load, most watched
            # cases are new ones the crew answers within seconds, and reading each would be wasted.
            return False
        last = self._read.get(case_id)
        return last is None or last.fingerprint != fingerprint or last.again_at <= now

    def _again_at(self, clocks: CaseClocks, now: datetime) -> datetime:
        revisit = now + REVISIT * self._spread.uniform(0.75, 1.25)
        return min([revisit, *(at for r in clocks.readings if (at := r.next_crossing_at) is not None)])

    def _act(self, case: Case, clocks: CaseClocks, new: list[Crossing], now: datetime, report: SweepReport) -> None:
        trigger = next((c for c in new if c.acts), None)
        page: Page | None = None
        handed = False
        try:
            with self.session_factory.begin() as session:
                if trigger is not None and self.settings.sla_handoff_enabled and case.status in HANDOFF_FROM:
                    handed = self._hand_over(session, case, now)
                with_people = handed or case.status in PEOPLE
                if trigger is not None and with_people and trigger.at >= now - PAGE_WINDOW:
                    page = sla_page(session, case.id, now=now, max_repages=self.settings.oncall_max_repages)
                action = "handed_to_person" if handed else "paged" if page is not None else None
                for crossing in new:
                    session.add(self._event_row(case, clocks, crossing, now, action if crossing is trigger else None))
                # The unique keys: of several sweepers, the second stops here and rolls all of it back.
                session.flush()
        except IntegrityError:
            logger.info("case %s: SLA events already written by another process", case.id)
            return
        report.events += len(new)
        for crossing in new:
            self._audit_crossing(case, clocks, crossing)
        if handed:
            report.handoffs += 1
            logger.warning("case %s: SLA deadline near; handed to a person (needs_human)", case.id)
            self.audit.record(
                "case_needs_human",
                actor=ACTOR,
                role="system",
                case_id=case.id,
                customer_id=case.customer_id,
                reason=HANDOFF_REASON,
                from_status=case.status,
            )
        if page is not None:
            report.pages += 1
            report.page_ids.append(page.id)
            record_page_queued(self.audit, page, actor=ACTOR, customer_id=case.customer_id)

    def _hand_over(self, session: Session, case: Case, now: datetime) -> bool:
        result = session.execute(
            update(Case)
            .where(Case.id == case.id, Case.status == case.status)
            .values(status=CaseStatus.NEEDS_HUMAN.value, updated_at=now)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return False  # changed meanwhile (answered, taken by staff): the next sweep reads it again
        session.add(status_event(case.id, CaseStatus.NEEDS_HUMAN.value, now, actor=ACTOR, reason=HANDOFF_REASON))
        return True

    def _event_row(
        self, case: Case, clocks: CaseClocks, crossing: Crossing, now: datetime, action: str | None
    ) -> CaseEvent:
        reading = crossing.reading
        deadline = reading.breached_at or reading.due_at
        data: dict[str, Any] = {
            "clock": reading.clock,
            "cycle": reading.cycle,
            "state": reading.state.value,
            "target_seconds": reading.target_seconds,
            "deadline": deadline.isoformat() if deadline else None,
            "tier": clocks.targets.tier,
            "priority": clocks.targets.priority,
            "detected_at": now.isoformat(),
            "action": action,
        }
        return CaseEvent(
            case_id=case.id,
            kind=crossing.kind,
            at=crossing.at,
            key=event_key(case.id, reading.clock, reading.cycle, crossing.kind),
            actor=ACTOR,
            data=data,
        )

    def _audit_crossing(self, case: Case, clocks: CaseClocks, crossing: Crossing) -> None:
        reading = crossing.reading
        self.audit.record(
            crossing.kind,
            actor=ACTOR,
            role="system",
            case_id=case.id,
            customer_id=case.customer_id,
            clock=reading.clock,
            cycle=reading.cycle,
            state=reading.state.value,
            tier=clocks.targets.tier,
            priority=clocks.targets.priority,
            target_seconds=reading.target_seconds,
            crossed_at=crossing.at.isoformat(),
        )
