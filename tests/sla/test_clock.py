"""The SLA clocks as a pure function of a case's history: every state, pause and resume, thresholds, business
hours, exact to the second under a controllable `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from desk.sla.clock import CaseHistory, ClockState, Fact, FactKind, case_clocks
from desk.sla.history import history_of
from desk.sla.policy import PolicyError, load_policies, parse_duration, parse_policies

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)


def targets(first: str, nxt: str, resolution: str, **extra: Any) -> dict[str, Any]:
    return {"first_response": first, "next_response": nxt, "resolution": resolution, **extra}


POLICY = {
    "default_tier": "standard",
    "business_hours": {
        "timezone": "UTC",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
    },
    "tiers": {
        "standard": {p: targets("1h", "30m", "4h") for p in ("urgent", "high", "medium", "low")},
        "biz": {
            **{p: targets("1h", "30m", "4h") for p in ("urgent", "high", "low")},
            "medium": targets("1h", "1h", "2h", business_hours=["resolution"]),
        },
    },
}
POLICIES = parse_policies(POLICY, near_breach_ratio=0.8)


def customer(at: datetime) -> Fact:
    return Fact(at, FactKind.CUSTOMER)


def agent(at: datetime, status: str) -> list[Fact]:
    return [Fact(at, FactKind.AGENT), Fact(at, FactKind.STATUS, status)]


def staff(at: datetime) -> Fact:
    return Fact(at, FactKind.STAFF)


def status(at: datetime, to: str) -> Fact:
    return Fact(at, FactKind.STATUS, to)


def history(
    *facts: Fact | list[Fact], initial: str = "open", tier: str | None = None, created: datetime = T0
) -> CaseHistory:
    flat: list[Fact] = [customer(created)]
    for f in facts:
        flat.extend(f if isinstance(f, list) else [f])
    return CaseHistory("c1", created, initial, tuple(flat), "medium", tier)


def clock(h: CaseHistory, now: datetime, name: str, cycle: int = 0) -> Any:
    return next(r for r in case_clocks(h, POLICIES, now).readings if r.clock == name and r.cycle == cycle)


def test_an_unanswered_case_runs_to_near_breach_and_breach_exactly() -> None:
    h = history()
    half = clock(h, T0 + 30 * M, "first_response")
    assert (half.state, half.elapsed_seconds, half.remaining_seconds) == (ClockState.RUNNING, 1800.0, 1800.0)
    assert half.due_at == T0 + H and not half.near_breach and not half.breached
    assert half.near_breach_at is None and half.breached_at is None
    just_before = clock(h, T0 + 48 * M - S, "first_response")
    assert not just_before.near_breach
    near = clock(h, T0 + 48 * M, "first_response")  # 80 % of one hour
    assert near.near_breach and not near.breached and near.near_breach_at == T0 + 48 * M
    late = clock(h, T0 + H + 5 * S, "first_response")
    assert late.breached and late.breached_at == T0 + H and late.remaining_seconds == -5.0
    assert late.state is ClockState.RUNNING and late.decided and not late.met
    resolution = clock(h, T0 + H, "resolution")
    assert (resolution.state, resolution.elapsed_seconds, resolution.due_at) == (ClockState.RUNNING, 3600.0, T0 + 4 * H)
    assert [r.clock for r in case_clocks(h, POLICIES, T0 + H).current()] == ["first_response", "resolution"]


def test_a_crew_answer_stops_the_response_clock_and_pauses_resolution_until_the_customer_writes() -> None:
    h = history(agent(T0 + 10 * S, "answered"), customer(T0 + 2 * H), agent(T0 + 2 * H + 5 * S, "answered"))
    at = T0 + H
    clocks = case_clocks(h, POLICIES, at)
    first = clock(h, at, "first_response")
    assert (first.state, first.elapsed_seconds, first.stopped_by, first.met) == (
        ClockState.STOPPED,
        10.0,
        "response",
        True,
    )
    resolution = clock(h, at, "resolution")
    assert (resolution.state, resolution.elapsed_seconds, resolution.due_at) == (ClockState.PAUSED, 10.0, None)
    assert clocks.waiting_on_customer and clocks.most_urgent() is None
    # The follow-up resumes resolution and starts next_response cycle 1 ...
    during = T0 + 2 * H + 3 * S
    follow = clock(h, during, "next_response", 1)
    assert (follow.state, follow.elapsed_seconds, follow.due_at) == (ClockState.RUNNING, 3.0, T0 + 2 * H + 30 * M)
    resumed = clock(h, during, "resolution")
    assert (resumed.state, resumed.elapsed_seconds, resumed.due_at) == (
        ClockState.RUNNING,
        13.0,
        T0 + 2 * H + 4 * H - 10 * S,
    )
    # ... and the answer stops and pauses them again.
    after = T0 + 5 * H
    assert clock(h, after, "next_response", 1).elapsed_seconds == 5.0
    assert clock(h, after, "next_response", 1).state is ClockState.STOPPED
    assert (clock(h, after, "resolution").state, clock(h, after, "resolution").elapsed_seconds) == (
        ClockState.PAUSED,
        15.0,
    )
    assert [r.clock for r in case_clocks(h, POLICIES, after).current()] == [
        "first_response",
        "next_response",
        "resolution",
    ]


def test_a_handoff_notice_is_no_response_a_persons_reply_is_and_resolving_stops_resolution() -> None:
    h = history(agent(T0 + 10 * S, "needs_human"), staff(T0 + 40 * M), status(T0 + 50 * M, "resolved"))
    during = T0 + 20 * M
    assert clock(h, during, "first_response").state is ClockState.RUNNING  # the crew's notice did not stop it
    assert not case_clocks(h, POLICIES, during).waiting_on_customer
    end = T0 + 3 * H
    first = clock(h, end, "first_response")
    assert (first.state, first.elapsed_seconds, first.stopped_at) == (ClockState.STOPPED, 2400.0, T0 + 40 * M)
    resolution = clock(h, end, "resolution")
    # Counted until the person's reply (2400 s); paused while waiting on the customer; stopped by resolving.
    assert (resolution.state, resolution.elapsed_seconds, resolution.stopped_at) == (
        ClockState.STOPPED,
        2400.0,
        T0 + 50 * M,
    )
    assert case_clocks(h, POLICIES, end).resolved


def test_a_customer_message_after_resolution_reopens_the_clocks_where_they_stopped() -> None:
    h = history(agent(T0 + 10 * S, "answered"), status(T0 + M, "resolved"), customer(T0 + 3 * H))
    now = T0 + 3 * H + 60 * S
    clocks = case_clocks(h, POLICIES, now)
    assert not clocks.resolved
    resolution = clock(h, now, "resolution")
    assert (resolution.state, resolution.elapsed_seconds) == (ClockState.RUNNING, 70.0)
    reopened = clock(h, now, "next_response", 1)
    assert (reopened.state, reopened.started_at, reopened.elapsed_seconds) == (ClockState.RUNNING, T0 + 3 * H, 60.0)


def test_a_hand_back_without_a_note_leaves_the_crews_answer_standing() -> None:
    h = history(agent(T0 + 10 * S, "needs_human"), status(T0 + 20 * M, "open"))
    first = clock(h, T0 + H, "first_response")
    assert (first.state, first.elapsed_seconds) == (ClockState.STOPPED, 1200.0)
    assert case_clocks(h, POLICIES, T0 + H).waiting_on_customer


def test_an_emergency_runs_through_acknowledgement_until_a_person_writes() -> None:
    h = history(agent(T0 + 2 * S, "escalated"), status(T0 + 5 * M, "acknowledged"), initial="escalated")
    reading = clock(h, T0 + 59 * M, "first_response")
    assert reading.state is ClockState.RUNNING and reading.near_breach and reading.near_breach_at == T0 + 48 * M
    assert case_clocks(h, POLICIES, T0 + 59 * M).most_urgent() == reading


def test_a_second_customer_message_does_not_restart_a_running_response_clock() -> None:
    h = history(customer(T0 + 20 * M))
    assert clock(h, T0 + 30 * M, "first_response").elapsed_seconds == 1800.0
    assert [r.clock for r in case_clocks(h, POLICIES, T0 + 30 * M).readings] == ["first_response", "resolution"]


def test_facts_after_now_are_not_seen() -> None:
    h = history(agent(T0 + H, "answered"))
    early = case_clocks(h, POLICIES, T0 + 10 * M)
    assert early.readings[0].state is ClockState.RUNNING and early.readings[0].elapsed_seconds == 600.0


def test_business_hours_count_only_working_time() -> None:
    friday_4pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    h = history(created=friday_4pm, tier="biz")
    saturday_noon = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    resolution = clock(h, saturday_noon, "resolution")
    assert resolution.business_hours and resolution.elapsed_seconds == 3600.0
    assert resolution.due_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # Monday 10:00: one more working hour
    monday = clock(h, datetime(2026, 3, 9, 9, 36, tzinfo=UTC), "resolution")
    assert monday.near_breach and monday.near_breach_at == datetime(2026, 3, 9, 9, 36, tzinfo=UTC)  # 96 of 120 min
    # first_response is not a business-hours clock in this policy: wall-clock
    assert clock(h, saturday_noon, "first_response").breached_at == friday_4pm + H


def test_calendar_holidays_and_time_zones() -> None:
    policy = {
        **POLICY,
        "business_hours": {"timezone": "Europe/Berlin", "start": "09:00", "end": "17:00", "holidays": ["2026-03-09"]},
    }
    calendar = parse_policies(policy, near_breach_ratio=0.8).calendar
    assert calendar is not None
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    # One hour left on Friday; Monday is a holiday; Tuesday 09:00 Berlin = 08:00 UTC.
    assert calendar.add(friday, 2 * 3600) == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert calendar.counted(friday, datetime(2026, 3, 10, 9, 0, tzinfo=UTC)) == 7200.0


def test_unknown_tier_and_unset_priority_fall_back() -> None:
    assert POLICIES.targets("gold", None).tier == "standard"
    assert POLICIES.targets("gold", None).priority == "medium"
    assert POLICIES.targets("biz", "medium").business_clocks == frozenset({"resolution"})


def test_durations_and_policy_errors() -> None:
    assert parse_duration("1h 30m") == timedelta(minutes=90)
    assert parse_duration(45) == timedelta(seconds=45)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("soon", "0s", "", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    broken = {**POLICY, "tiers": {"standard": {"urgent": targets("1h", "1h", "1h")}}}
    with pytest.raises(PolicyError, match="exactly the priorities"):
        parse_policies(broken, near_breach_ratio=0.8)
    with pytest.raises(PolicyError, match="default_tier"):
        parse_policies({**POLICY, "default_tier": "gold"}, near_breach_ratio=0.8)
    no_calendar = {k: v for k, v in POLICY.items() if k != "business_hours"}
    with pytest.raises(PolicyError, match="business_hours"):
        parse_policies(no_calendar, near_breach_ratio=0.8)


def test_the_shipped_policy_never_promises_later_than_kb_031() -> None:
    from desk.oncall.policy import response_time

    shipped = load_policies()
    assert shipped.default_tier == "standard"
    for tier in shipped.tiers:
        for priority in ("urgent", "high", "medium", "low"):
            t = shipped.targets(tier, priority)
            assert "first_response" not in t.business_clocks
            assert t.first_response <= response_time(priority), (tier, priority)
    standard = [shipped.targets("standard", p).first_response for p in ("urgent", "high", "medium", "low")]
    assert standard == [response_time(p) for p in ("urgent", "high", "medium", "low")]


def _row(**values: Any) -> Any:
    base = {"id": "c1", "created_at": T0, "emergency": False, "status": "open", "updated_at": T0, "priority": "high"}
    return SimpleNamespace(**{**base, **values})


def test_history_starts_from_the_stored_status_and_adds_unrecorded_changes() -> None:
    emergency = history_of(_row(emergency=True, status="escalated"), [customer(T0)], [], None)
    assert emergency.initial_status == "escalated" and len(emergency.facts) == 1
    answered_at_open = history_of(
        _row(emergency=True, status="escalated", updated_at=T0 + H),
        [customer(T0), Fact(T0 + S, FactKind.AGENT)],
        [status(T0 + S, "escalated")],
        None,
    )
    assert answered_at_open.initial_status == "escalated"
    later = history_of(
        _row(emergency=True, status="escalated", updated_at=T0 + H),
        [customer(T0)],
        [status(T0 + S, "answered"), status(T0 + H, "escalated")],
        "premium",
    )
    assert later.initial_status == "open" and later.tier == "premium" and later.priority == "high"
    given_up = history_of(_row(status="needs_human", updated_at=T0 + 2 * H), [customer(T0)], [], None)
    assert given_up.facts[-1] == Fact(T0 + 2 * H, FactKind.STATUS, "needs_human")


def test_a_late_reply_stops_the_clock_breached() -> None:
    h = history(agent(T0 + 10 * S, "needs_human"), staff(T0 + 70 * M))
    late = clock(h, T0 + 2 * H, "first_response")
    assert (late.state, late.elapsed_seconds, late.remaining_seconds) == (ClockState.STOPPED, 4200.0, -600.0)
    assert late.breached and late.breached_at == T0 + H and late.near_breach_at == T0 + 48 * M
    assert late.decided and not late.met and late.due_at is None
    # Read before the reply, the same clock was running and already breached.
    before = clock(h, T0 + 65 * M, "first_response")
    assert before.state is ClockState.RUNNING and before.breached and before.due_at == T0 + H
