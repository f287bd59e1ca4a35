"""The SLA sweeper under a controllable clock: near-breach and breach events (thread, audit), re-pages through
the outbox with unique idempotency keys, hand-over of crew cases before a breach, idempotency across
processes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from desk.models import Case, CaseEvent, CaseMessage
from desk.oncall import outbox
from desk.oncall.models import Page, PageTarget
from desk.sla import sweeper as sweeper_module
from desk.sla.sweeper import SlaSweeper
from tests.sla.conftest import T0, Desk, seed

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_sweeper(desk: Desk, clock: Clock, **settings: Any) -> tuple[SlaSweeper, list[int]]:
    woken: list[int] = []
    configured = desk.settings.model_copy(update=settings) if settings else desk.settings
    sweeper = SlaSweeper(configured, desk.session_factory, desk.audit, wake=lambda: woken.append(1), clock=clock)
    return sweeper, woken


def events(desk: Desk, case_id: str) -> list[tuple[str, datetime, dict[str, Any]]]:
    with desk.session_factory() as session:
        rows = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind != "status").order_by(CaseEvent.id)
        )
        return [(e.kind, e.at, e.data) for e in rows]


def pages(desk: Desk, case_id: str) -> list[Page]:
    with desk.session_factory() as session:
        return list(session.scalars(select(Page).where(Page.case_id == case_id).order_by(Page.series)))


def status_of(desk: Desk, case_id: str) -> str:
    with desk.session_factory() as session:
        return session.get(Case, case_id).status  # type: ignore[union-attr]


def needs_human_case(desk: Desk, case_id: str = "nh1", **kwargs: Any) -> None:
    seed(
        desk,
        case_id,
        status="needs_human",
        messages=[("customer", T0), ("agent", T0 + 10 * S)],
        marks=[("needs_human", T0 + 10 * S)],
        **kwargs,
    )


def test_a_needs_human_case_near_breach_is_paged_once_then_the_breach_is_recorded(desk: Desk) -> None:
    needs_human_case(desk)
    clock = Clock(T0 + 48 * M - S)
    sweeper, woken = make_sweeper(desk, clock)
    assert sweeper.sweep().events == 0 and events(desk, "nh1") == []

    clock.now = T0 + 48 * M  # 80 % of the 1 h first-response target
    report = sweeper.sweep()
    assert (report.events, report.pages, report.handoffs) == (1, 1, 0) and woken == [1]
    [(kind, at, data)] = events(desk, "nh1")
    assert (kind, at) == ("sla_near_breach", T0 + 48 * M)
    assert data["clock"] == "first_response" and data["action"] == "paged" and data["deadline"] == (T0 + H).isoformat()
    [page] = pages(desk, "nh1")
    assert (page.reason, page.series, page.target, page.idempotency_key) == (
        "sla_near_breach",
        101,
        "primary",
        outbox.page_key("nh1", 101, PageTarget.PRIMARY),
    )
    near = desk.audit_events("sla_near_breach")
    assert [(e["case_id"], e["clock"], e["crossed_at"]) for e in near] == [
        ("nh1", "first_response", (T0 + 48 * M).isoformat())
    ]
    queued = desk.audit_events("oncall_page_queued")
    assert [(e["case_id"], e["reason"], e["series"]) for e in queued] == [("nh1", "sla_near_breach", 101)]

    clock.now = T0 + 55 * M
    assert sweeper.sweep().events == 0 and len(pages(desk, "nh1")) == 1

    clock.now = T0 + H
    report = sweeper.sweep()
    assert (report.events, report.pages) == (1, 0)
    assert [(k, at) for k, at, _ in events(desk, "nh1")] == [("sla_near_breach", T0 + 48 * M), ("sla_breach", T0 + H)]
    assert [e["clock"] for e in desk.audit_events("sla_breach")] == ["first_response"]
    assert status_of(desk, "nh1") == "needs_human"


def test_an_answered_case_nearing_its_resolution_deadline_goes_to_a_person(desk: Desk) -> None:
    # Tier "fast": resolution 1 h. The crew took 40 min to answer, the customer wrote again at +41 min and the
    # follow-up was never answered: resolution reaches 80 % (48 min) at +49 min.
    seed(
        desk,
        "ans1",
        status="answered",
        messages=[("customer", T0), ("agent", T0 + 40 * M), ("customer", T0 + 41 * M)],
        marks=[("answered", T0 + 40 * M)],
        tier="fast",
    )
    clock = Clock(T0 + 49 * M - S)
    sweeper, woken = make_sweeper(desk, clock)
    assert sweeper.sweep().handoffs == 0 and status_of(desk, "ans1") == "answered"
    clock.now = T0 + 49 * M
    report = sweeper.sweep()
    assert (report.handoffs, report.pages, report.events) == (1, 1, 1) and woken == [1]
    assert status_of(desk, "ans1") == "needs_human"
    [(kind, at, data)] = events(desk, "ans1")
    assert (kind, at, data["clock"], data["action"], data["tier"]) == (
        "sla_near_breach",
        T0 + 49 * M,
        "resolution",
        "handed_to_person",
        "fast",
    )
    with desk.session_factory() as session:
        marks = session.scalars(select(CaseEvent).where(CaseEvent.case_id == "ans1", CaseEvent.kind == "status"))
        assert [(m.data["to"], m.at, m.actor) for m in marks][-1] == ("needs_human", T0 + 49 * M, "sla-sweeper")
    [handoff] = desk.audit_events("case_needs_human")
    assert (handoff["reason"], handoff["from_status"], handoff["actor"]) == (
        "sla_near_breach",
        "answered",
        "sla-sweeper",
    )
    # Now a needs-human case: its clocks keep running (the crew's answer was a holding notice for the follow-up).
    clock.now = T0 + 50 * M
    assert sweeper.sweep().events == 0


def test_a_failed_case_is_handed_over_a_queued_one_is_left_to_the_jobs(desk: Desk) -> None:
    seed(desk, "failed1", status="failed", messages=[("customer", T0)])
    seed(desk, "queued1", status="queued", messages=[("customer", T0)])
    sweeper, _ = make_sweeper(desk, Clock(T0 + 50 * M))
    report = sweeper.sweep()
    assert (report.events, report.handoffs, report.pages) == (2, 1, 1)
    assert status_of(desk, "failed1") == "needs_human" and status_of(desk, "queued1") == "queued"
    assert [d["action"] for _, _, d in events(desk, "queued1")] == [None]


def test_hand_over_can_be_switched_off(desk: Desk) -> None:
    seed(desk, "failed1", status="failed", messages=[("customer", T0)])
    sweeper, _ = make_sweeper(desk, Clock(T0 + 50 * M), sla_handoff_enabled=False)
    assert sweeper.sweep().handoffs == 0 and status_of(desk, "failed1") == "failed"


def test_a_case_waiting_on_the_customer_is_not_even_read(desk: Desk) -> None:
    seed(desk, "w1", status="answered", messages=[("customer", T0), ("agent", T0 + S)], marks=[("answered", T0 + S)])
    seed(desk, "r1", status="resolved", messages=[("customer", T0), ("staff", T0 + S)], marks=[("resolved", T0 + M)])
    sweeper, _ = make_sweeper(desk, Clock(T0 + 30 * H))
    assert sweeper.sweep().cases == 0


def test_a_stale_crossing_is_recorded_and_handed_over_but_not_paged(desk: Desk) -> None:
    seed(desk, "old", status="open", messages=[("customer", T0)])
    sweeper, woken = make_sweeper(desk, Clock(T0 + 48 * M + sweeper_module.PAGE_WINDOW + S))
    report = sweeper.sweep()
    assert (report.handoffs, report.pages) == (1, 0) and woken == []
    assert sorted(k for k, _, _ in events(desk, "old")) == ["sla_breach", "sla_near_breach"]


def test_two_sweepers_write_each_event_page_and_hand_over_once(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(desk, "race", status="open", messages=[("customer", T0)])
    clock = Clock(T0 + 50 * M)
    first, _ = make_sweeper(desk, clock)
    second, _ = make_sweeper(desk, clock)
    assert first.sweep().handoffs == 1
    # The second read the case before the first wrote (its known keys are stale): the unique key stops it.
    monkeypatch.setattr(sweeper_module, "_known_keys", lambda session, ids: set())
    monkeypatch.setattr(sweeper_module, "load_cases", lambda session, ids: [_detached(desk, "race", status="open")])
    report = second.sweep()
    assert (report.events, report.handoffs, report.pages) == (0, 0, 0)
    assert len(events(desk, "race")) == 1 and len(pages(desk, "race")) == 1
    assert len(desk.audit_events("case_needs_human")) == 1


def _detached(desk: Desk, case_id: str, **overrides: Any) -> Case:
    with desk.session_factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
    for name, value in overrides.items():
        setattr(case, name, value)
    return case


def test_sla_pages_never_reuse_an_emergency_series(desk: Desk) -> None:
    seed(
        desk,
        "em1",
        status="escalated",
        emergency=True,
        priority="urgent",
        messages=[("customer", T0), ("agent", T0 + S)],
        marks=[("escalated", T0 + S)],
    )
    with desk.session_factory.begin() as session:
        outbox.open_escalation(session, "em1", auto=False, now=T0, max_repages=3)
        for series in (1, 2, 3):
            session.add(
                outbox.new_page(
                    "em1", series=series, target=PageTarget.PRIMARY, reason=outbox.PageReason.REPAGE, now=T0
                )
            )
        session.add(
            outbox.new_page("em1", series=4, target=PageTarget.SECONDARY, reason=outbox.PageReason.SECONDARY, now=T0)
        )
    sweeper, _ = make_sweeper(desk, Clock(T0 + 48 * M))
    assert sweeper.sweep().pages == 1
    # A later re-escalation (handed back, an emergency again) goes above the SLA page's series.
    with desk.session_factory.begin() as session:
        again = outbox.open_escalation(session, "em1", auto=False, now=T0 + H, max_repages=3)
    keys = [p.idempotency_key for p in pages(desk, "em1")]
    assert len(keys) == len(set(keys)) == 7
    assert [p.series for p in pages(desk, "em1")][-2:] == [101, 102] and again.series == 102


def test_a_backlog_waiting_for_people_is_read_again_only_when_it_changes_or_a_threshold_comes(desk: Desk) -> None:
    for number in range(3):
        needs_human_case(desk, f"nh{number}")
    clock = Clock(T0 + 48 * M - 10 * S)  # near breach at +48 min, sooner than the revisit period
    sweeper, _ = make_sweeper(desk, clock)
    first = sweeper.sweep()
    assert (first.watched, first.cases, first.events) == (3, 3, 0)
    clock.now += 2 * S
    second = sweeper.sweep()
    assert (second.watched, second.cases) == (3, 0)

    # The customer writes on one case: its history changed, so the next sweep reads that case alone.
    with desk.session_factory.begin() as session:
        session.add(
            CaseMessage(case_id="nh1", author="customer", text="still there?", citations=[], created_at=clock.now)
        )
    assert sweeper.sweep().cases == 1

    # Nothing is missed while unread: each case is read again at its near-breach instant, and acted on.
    clock.now = T0 + 48 * M
    report = sweeper.sweep()
    assert (report.cases, report.events, report.pages) == (3, 3, 3)
    assert [kind for kind, _, _ in events(desk, "nh0")] == ["sla_near_breach"]


def test_every_watched_case_is_read_again_within_the_revisit_period(desk: Desk) -> None:
    needs_human_case(desk)
    clock = Clock(T0 + 25 * M)  # old enough to have crossed a threshold (the shortest is 24 min away)
    sweeper, _ = make_sweeper(desk, clock)
    assert sweeper.sweep().cases == 1
    clock.now += sweeper_module.REVISIT * 0.7
    assert sweeper.sweep().cases == 0
    clock.now += sweeper_module.REVISIT * 0.6
    assert sweeper.sweep().cases == 1


def test_a_new_sweeper_reads_every_watched_case(desk: Desk) -> None:
    needs_human_case(desk)
    clock = Clock(T0 + 25 * M)
    first, _ = make_sweeper(desk, clock)
    assert first.sweep().cases == 1 and first.sweep().cases == 0
    second, _ = make_sweeper(desk, clock)  # another API process, or this one restarted
    assert second.sweep().cases == 1


def test_a_case_too_young_to_have_crossed_a_threshold_is_not_read(desk: Desk) -> None:
    # The test policy's shortest target is 30 min (next response), near breach at 80% of it: no clock of a case
    # younger than 24 min can have crossed anything, so the sweep does not read it.
    needs_human_case(desk)
    clock = Clock(T0 + 23 * M)
    sweeper, _ = make_sweeper(desk, clock)
    report = sweeper.sweep()
    assert (report.watched, report.cases) == (1, 0)
    clock.now = T0 + 25 * M
    assert sweeper.sweep().cases == 1
    clock.now = T0 + 48 * M  # 80 % of the 1 h first-response target: still found on time
    assert sweeper.sweep().events == 1
