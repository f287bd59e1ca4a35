"""The SLA clocks of one case, as a pure function of its history and `now` (no database, no wall clock).

The history is the case's creation, its messages (customer, agent = the crew, staff) and its status changes.
After every instant of it the case is in one *phase*:

- **resolved** while its status is `resolved` and the customer has not written since;
- **waiting on the customer** while the last message is a person's reply, or a crew reply that left the case
  out of the people's queues (status not escalated / acknowledged / in_progress / needs_human). A crew reply
  that hands the case to people is a holding notice: the desk still owes the answer;
- otherwise the desk owes the customer a response.

Clocks:

- `first_response` (cycle 0) runs from creation until the case first waits on the customer or is resolved;
- `next_response` (cycles 1, 2, ...) runs from a customer message that finds no response clock running until
  the case waits on the customer again or is resolved;
- `resolution` counts every stretch in which the desk owes a response, from creation until resolved; it is
  paused while the desk waits on the customer and resumes when the customer writes (also after resolution:
  a reopened case's clock goes on from where it stopped).

A clock counts wall-clock time, or only the calendar's working hours when its policy says so. It is near
breach once `near_breach_ratio` of its target has elapsed and breached once all of it has (at the deadline
itself). Facts after `now` are ignored, so one history can be read at any instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import groupby
from typing import Any

from desk.models import CaseStatus
from desk.sla.policy import BusinessCalendar, SlaPolicies, Targets

PEOPLE = frozenset(
    {
        CaseStatus.ESCALATED.value,
        CaseStatus.ACKNOWLEDGED.value,
        CaseStatus.IN_PROGRESS.value,
        CaseStatus.NEEDS_HUMAN.value,
    }
)
RESOLVED = CaseStatus.RESOLVED.value


class FactKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    STAFF = "staff"
    STATUS = "status"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Fact:
    at: datetime
    kind: str
    status: str | None = None


@dataclass(frozen=True)
class CaseHistory:
    case_id: str
    created_at: datetime
    initial_status: str
    facts: tuple[Fact, ...]
    priority: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class Phase:
    """The case from `start` until the next phase."""

    start: datetime
    status: str
    waiting: bool
    resolved: bool
    customer_wrote: bool


def phases(history: CaseHistory, now: datetime) -> list[Phase]:
    """The case's phases up to `now`: one per instant of its history (facts at one instant apply together)."""
    status, last_author, customer_since_resolved = history.initial_status, None, False
    out: list[Phase] = []
    facts = sorted((f for f in history.facts if f.at <= now), key=lambda f: f.at)
    instants: list[tuple[datetime, list[Fact]]] = [(history.created_at, [])]
    for at, same_instant in groupby(facts, key=lambda f: f.at):
        if at <= history.created_at:
            instants[0][1].extend(same_instant)
        else:
            instants.append((at, list(same_instant)))
    for at, group in instants:
        customer_wrote = False
        for fact in group:
            if fact.kind == FactKind.STATUS and fact.status:
                if fact.status == RESOLVED and status != RESOLVED:
                    customer_since_resolved = False
                status = fact.status
            elif fact.kind in (FactKind.CUSTOMER, FactKind.AGENT, FactKind.STAFF):
                last_author = fact.kind
                if fact.kind == FactKind.CUSTOMER:
                    customer_wrote = True
                    customer_since_resolved = customer_since_resolved or status == RESOLVED
        resolved = status == RESOLVED and not customer_since_resolved
        waiting = not resolved and (
            last_author == FactKind.STAFF or (last_author == FactKind.AGENT and status not in PEOPLE)
        )
        out.append(Phase(at, status, waiting, resolved, customer_wrote))
    return out


@dataclass(frozen=True)
class ClockRun:
    """One clock instance: the stretches it counts (the last one open while it runs) and why it stopped."""

    clock: str
    cycle: int
    started_at: datetime
    intervals: tuple[tuple[datetime, datetime | None], ...]
    stopped_at: datetime | None = None
    stopped_by: str | None = None  # "response" or "resolution"


def runs(case_phases: Sequence[Phase]) -> list[ClockRun]:
    """The response cycles (first_response, then next_response 1, 2, ...) and the resolution clock."""
    out: list[ClockRun] = []
    open_cycle: tuple[int, datetime] | None = None
    cycles = 0
    for index, phase in enumerate(case_phases):
        if open_cycle is not None and (phase.waiting or phase.resolved):
            number, started = open_cycle
            name = "first_response" if number == 0 else "next_response"
            out.append(
                ClockRun(
                    name,
                    number,
                    started,
                    ((started, phase.start),),
                    phase.start,
                    "resolution" if phase.resolved else "response",
                )
            )
            open_cycle = None
        elif open_cycle is None and not (phase.waiting or phase.resolved) and (index == 0 or phase.customer_wrote):
            open_cycle = (cycles, phase.start)
            cycles += 1
    if open_cycle is not None:
        number, started = open_cycle
        out.append(ClockRun("first_response" if number == 0 else "next_response", number, started, ((started, None),)))
    out.append(_resolution(case_phases))
    return out


def _resolution(case_phases: Sequence[Phase]) -> ClockRun:
    intervals: list[tuple[datetime, datetime | None]] = []
    running_since: datetime | None = None
    for phase in case_phases:
        counting = not (phase.waiting or phase.resolved)
        if counting and running_since is None:
            running_since = phase.start
        elif not counting and running_since is not None:
            intervals.append((running_since, phase.start))
            running_since = None
    if running_since is not None:
        intervals.append((running_since, None))
    last = case_phases[-1]
    return ClockRun(
        "resolution",
        0,
        case_phases[0].start,
        tuple(intervals),
        last.start if last.resolved else None,
        "resolution" if last.resolved else None,
    )


def _counted(calendar: BusinessCalendar | None, start: datetime, end: datetime) -> float:
    if end <= start:
        return 0.0
    return calendar.counted(start, end) if calendar else (end - start).total_seconds()


def _after(calendar: BusinessCalendar | None, start: datetime, seconds: float) -> datetime:
    return calendar.add(start, seconds) if calendar else start + timedelta(seconds=seconds)


def _crossing(
    intervals: Iterable[tuple[datetime, datetime | None]],
    threshold: float,
    calendar: BusinessCalendar | None,
    until: datetime | None,
) -> datetime | None:
    """When the counted time reaches `threshold`: within `until` (None: an open stretch runs for ever)."""
    total = 0.0
    for start, end in intervals:
        stop = end if end is not None else until
        if stop is None:
            return _after(calendar, start, threshold - total)
        counted = _counted(calendar, start, stop)
        if total + counted >= threshold:
            return _after(calendar, start, threshold - total)
        total += counted
    return None


@dataclass(frozen=True)
class ClockReading:
    """A clock at `now`, against its target."""

    clock: str
    cycle: int
    state: ClockState
    started_at: datetime
    stopped_at: datetime | None
    stopped_by: str | None
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float
    due_at: datetime | None
    near_breach: bool
    breached: bool
    near_breach_at: datetime | None
    breached_at: datetime | None
    business_hours: bool
    # When a running clock will be near breach if it keeps running (None when not running).
    near_breach_due_at: datetime | None = None

    @property
    def decided(self) -> bool:
        """Met or missed for good: stopped, or breached (a running clock cannot un-breach)."""
        return self.state is ClockState.STOPPED or self.breached

    @property
    def met(self) -> bool:
        return self.state is ClockState.STOPPED and not self.breached

    @property
    def next_crossing_at(self) -> datetime | None:
        """The next instant this reading changes with time alone: a running clock's near-breach threshold, then
        its deadline. None once it is breached, or while it is paused or stopped (only its history moves it)."""
        if self.state is not ClockState.RUNNING or self.breached:
            return None
        return self.due_at if self.near_breach else self.near_breach_due_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "cycle": self.cycle,
            "state": self.state.value,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "target_seconds": self.target_seconds,
            "elapsed_seconds": self.elapsed_seconds,
            "remaining_seconds": self.remaining_seconds,
            "due_at": self.due_at,
            "near_breach": self.near_breach,
            "breached": self.breached,
            "business_hours": self.business_hours,
        }


def read(
    run: ClockRun, target: timedelta, calendar: BusinessCalendar | None, ratio: float, now: datetime
) -> ClockReading:
    target_seconds = target.total_seconds()
    elapsed = sum(_counted(calendar, start, end if end is not None else now) for start, end in run.intervals)
    running = bool(run.intervals) and run.intervals[-1][1] is None and run.stopped_at is None
    state = ClockState.STOPPED if run.stopped_at is not None else ClockState.RUNNING if running else ClockState.PAUSED
    near_at = _crossing(run.intervals, ratio * target_seconds, calendar, now)
    breach_at = _crossing(run.intervals, target_seconds, calendar, now)
    return ClockReading(
        clock=run.clock,
        cycle=run.cycle,
        state=state,
        started_at=run.started_at,
        stopped_at=run.stopped_at,
        stopped_by=run.stopped_by,
        target_seconds=target_seconds,
        elapsed_seconds=round(elapsed, 3),
        remaining_seconds=round(target_seconds - elapsed, 3),
        due_at=_crossing(run.intervals, target_seconds, calendar, None) if state is ClockState.RUNNING else None,
        near_breach=elapsed >= ratio * target_seconds,
        breached=elapsed >= target_seconds,
        near_breach_at=near_at,
        breached_at=breach_at,
        business_hours=calendar is not None,
        near_breach_due_at=(
            _crossing(run.intervals, ratio * target_seconds, calendar, None) if state is ClockState.RUNNING else None
        ),
    )


@dataclass(frozen=True)
class CaseClocks:
    """Every clock of one case at `now`, and what its history says about it."""

    case_id: str
    now: datetime
    targets: Targets
    readings: tuple[ClockReading, ...]
    phases: tuple[Phase, ...] = field(repr=False)

    @property
    def waiting_on_customer(self) -> bool:
        return self.phases[-1].waiting

    @property
    def resolved(self) -> bool:
        return self.phases[-1].resolved

    def current(self) -> list[ClockReading]:
        """first_response, the latest next_response (if any) and resolution."""
        first = [r for r in self.readings if r.clock == "first_response"]
        later = [r for r in self.readings if r.clock == "next_response"]
        resolution = [r for r in self.readings if r.clock == "resolution"]
        return first + later[-1:] + resolution

    def most_urgent(self) -> ClockReading | None:
        """The running clock closest to (or furthest past) its deadline; None when none runs."""
        running = [r for r in self.readings if r.state is ClockState.RUNNING]
        return min(running, key=lambda r: (r.due_at or self.now, r.remaining_seconds)) if running else None


def case_clocks(history: CaseHistory, policies: SlaPolicies, now: datetime) -> CaseClocks:
    case_phases = phases(history, now)
    targets = policies.targets(history.tier, history.priority)
    readings = tuple(
        read(
            run,
            targets.target(run.clock),
            policies.calendar_for(targets, run.clock),
            policies.near_breach_ratio,
            now,
        )
        for run in runs(case_phases)
    )
    return CaseClocks(history.case_id, now, targets, readings, tuple(case_phases))
