"""The numbers a support lead asks for, per route, priority and day, computed from each case's history (the
same history the SLA clocks read, desk/sla/): `GET /support/status` (`metrics`) and `GET /support/metrics.csv`.

For the cases created in the window (`since` <= created_at < `now`):

- first-response time: wall-clock seconds from the first message to the first response (the first time the
  desk waited on the customer: a crew answer that stood, or a person's reply); averaged over the cases that
  had one (`responded`);
- resolution time: wall-clock seconds from the first message to `resolved`, over the cases resolved now;
- automation rate: cases answered or resolved (their status now) that never went to a person (never in a
  people's status, no staff message), over all cases;
- handoff rate: cases that were ever with people (escalated, acknowledged, in_progress, needs_human), over all;
- reopen rate: cases the customer wrote to again after they were resolved, over the cases ever resolved;
- SLA % met: clocks (first response, every next response, resolution) met, over the clocks decided (stopped,
  or breached: a running clock that is still within its target is not counted yet).

Rates are fractions (0..1) rounded to 4 places, times seconds rounded to 3; None when nothing is counted.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from crew.models import Priority
from desk.models import Case, CaseStatus
from desk.sla.clock import PEOPLE, CaseClocks, CaseHistory, FactKind, case_clocks
from desk.sla.history import histories
from desk.sla.policy import SlaPolicies

UNSET = "unset"
PRIORITY_ORDER = [p.value for p in (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW)] + [UNSET]
DIMENSIONS = ("all", "route", "priority", "day")


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    route: str
    priority: str
    day: date
    first_response_seconds: float | None
    resolution_seconds: float | None
    automated: bool
    handed_off: bool
    ever_resolved: bool
    reopened: bool
    sla_met: int
    sla_decided: int


def outcome(case: Case, history: CaseHistory, clocks: CaseClocks) -> CaseOutcome:
    phases = clocks.phases
    first = next(r for r in clocks.readings if r.clock == "first_response")
    responded = first.stopped_by == "response" and first.stopped_at is not None
    handed_off = any(p.status in PEOPLE for p in phases)
    staff_wrote = any(f.kind == FactKind.STAFF and f.at <= clocks.now for f in history.facts)
    final = phases[-1]
    decided = [r for r in clocks.readings if r.decided]
    return CaseOutcome(
        case_id=case.id,
        route=case.route or case.requested_route,
        priority=case.priority or UNSET,
        day=case.created_at.date(),
        first_response_seconds=(first.stopped_at - case.created_at).total_seconds()  # type: ignore[operator]
        if responded
        else None,
        resolution_seconds=(final.start - case.created_at).total_seconds() if final.resolved else None,
        automated=not handed_off
        and not staff_wrote
        and final.status in (CaseStatus.ANSWERED.value, CaseStatus.RESOLVED.value),
        handed_off=handed_off,
        ever_resolved=any(p.status == CaseStatus.RESOLVED.value for p in phases),
        reopened=any(p.customer_wrote and p.status == CaseStatus.RESOLVED.value for p in phases),
        sla_met=sum(1 for r in decided if r.met),
        sla_decided=len(decided),
    )


class MetricRow(BaseModel):
    """One row of the metrics (overall, or one route, priority or day). A pydantic model: the API serves it
    as it is (GET /support/status) and the CSV export writes its fields in this order."""

    model_config = ConfigDict(frozen=True)

    dimension: Literal["all", "route", "priority", "day"]
    key: str
    cases: int
    responded: int
    first_response_avg_seconds: float | None
    resolved: int
    resolution_avg_seconds: float | None
    automated: int
    automation_rate: float | None = Field(description="Answered or resolved with no person, over all cases")
    handed_off: int
    handoff_rate: float | None
    ever_resolved: int
    reopened: int
    reopen_rate: float | None = Field(description="Reopened over ever resolved")
    sla_decided: int
    sla_met: int
    sla_met_rate: float | None = Field(description="Clocks met over clocks decided (stopped or breached)")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def aggregate(dimension: str, key: str, outcomes: Sequence[CaseOutcome]) -> MetricRow:
    first = [o.first_response_seconds for o in outcomes if o.first_response_seconds is not None]
    resolution = [o.resolution_seconds for o in outcomes if o.resolution_seconds is not None]
    cases = len(outcomes)
    automated = sum(o.automated for o in outcomes)
    handed_off = sum(o.handed_off for o in outcomes)
    ever_resolved = sum(o.ever_resolved for o in outcomes)
    reopened = sum(o.reopened for o in outcomes)
    decided = sum(o.sla_decided for o in outcomes)
    met = sum(o.sla_met for o in outcomes)
    return MetricRow(
        dimension=dimension,
        key=key,
        cases=cases,
        responded=len(first),
        first_response_avg_seconds=_mean(first),
        resolved=len(resolution),
        resolution_avg_seconds=_mean(resolution),
        automated=automated,
        automation_rate=_rate(automated, cases),
        handed_off=handed_off,
        handoff_rate=_rate(handed_off, cases),
        ever_resolved=ever_resolved,
        reopened=reopened,
        reopen_rate=_rate(reopened, ever_resolved),
        sla_decided=decided,
        sla_met=met,
        sla_met_rate=_rate(met, decided),
    )


def _grouped(
    dimension: str, outcomes: Iterable[CaseOutcome], key: Callable[[CaseOutcome], str], order: list[str] | None = None
) -> list[MetricRow]:
    groups: dict[str, list[CaseOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o)].append(o)
    keys = sorted(groups, key=lambda k: (order.index(k) if order and k in order else len(order or []), k))
    return [aggregate(dimension, k, groups[k]) for k in keys]


@dataclass(frozen=True)
class Metrics:
    since: datetime
    until: datetime
    overall: MetricRow
    by_route: list[MetricRow]
    by_priority: list[MetricRow]
    by_day: list[MetricRow]

    def rows(self) -> list[MetricRow]:
        return [self.overall, *self.by_route, *self.by_priority, *self.by_day]


def summarise(outcomes: Sequence[CaseOutcome], *, since: datetime, until: datetime) -> Metrics:
    return Metrics(
        since=since,
        until=until,
        overall=aggregate("all", "all", outcomes),
        by_route=_grouped("route", outcomes, lambda o: o.route),
        by_priority=_grouped("priority", outcomes, lambda o: o.priority, PRIORITY_ORDER),
        by_day=_grouped("day", outcomes, lambda o: o.day.isoformat()),
    )


def desk_metrics(session: Session, policies: SlaPolicies, *, now: datetime, days: int) -> Metrics:
    """Metrics over the cases created in the last `days` days (a window of whole UTC days, today included)."""
    since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), tzinfo=now.tzinfo)
    cases = list(session.scalars(select(Case).where(Case.created_at >= since, Case.created_at <= now)))
    found = histories(session, cases)
    outcomes = [outcome(c, found[c.id], case_clocks(found[c.id], policies, now)) for c in cases]
    return summarise(outcomes, since=since, until=now)


CSV_FIELDS = list(MetricRow.model_fields)


def metrics_csv(metrics: Metrics) -> str:
    """One row per group (dimension all / route / priority / day): keys are route names, priorities and ISO
    dates only, never customer text, so no cell can start a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in metrics.rows():
        writer.writerow({k: "" if v is None else v for k, v in row.model_dump().items()})
    return out.getvalue()
