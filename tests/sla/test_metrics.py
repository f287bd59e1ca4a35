"""Metrics on a seeded history, against numbers computed by hand (in the comments)."""

from __future__ import annotations

from datetime import timedelta

from desk.metrics import desk_metrics, metrics_csv
from desk.sla.policy import policies_for
from tests.sla.conftest import T0, Desk, seed

S, M, H, D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
NOW = T0 + 2 * D  # Wednesday 08:00; a 3-day window starts Monday 00:00


def seed_history(desk: Desk) -> None:
    # a1 billing/medium, Mon: the crew answers in 20 s; waits on the customer since.
    #   first response 20 s (met); automated. SLA decided 1, met 1.
    seed(
        desk,
        "a1",
        status="answered",
        route="billing",
        messages=[("customer", T0), ("agent", T0 + 20 * S)],
        marks=[("answered", T0 + 20 * S)],
    )
    # b1 technical/high, Mon +1 h: handed to a person, who replies after 1 h 30 min and resolves at +2 h.
    #   first response 5400 s (missed: 1 h); resolution counted 5400 s until the reply (met: 4 h), resolved
    #   after 7200 s wall-clock; handed off. SLA decided 2, met 1.
    b = T0 + H
    seed(
        desk,
        "b1",
        status="resolved",
        route="technical",
        priority="high",
        created=b,
        messages=[("customer", b), ("agent", b + 30 * S), ("staff", b + 90 * M)],
        marks=[("needs_human", b + 30 * S), ("resolved", b + 2 * H)],
    )
    # c1 billing/medium, Mon +2 h: answered in 10 s, resolved at +1 h, reopened by the customer at +3 h and
    #   answered again in 20 s. First response 10 s, next response 20 s (both met; resolution paused, not
    #   decided); automated (no person took part), reopened, not resolved now. SLA decided 2, met 2.
    c = T0 + 2 * H
    seed(
        desk,
        "c1",
        status="answered",
        route="billing",
        created=c,
        messages=[("customer", c), ("agent", c + 10 * S), ("customer", c + 3 * H), ("agent", c + 3 * H + 20 * S)],
        marks=[("answered", c + 10 * S), ("resolved", c + H), ("answered", c + 3 * H + 20 * S)],
    )
    # d1 escalation/urgent emergency, Tue: nobody replied in 24 h. First response and resolution breached.
    #   Handed off. SLA decided 2, met 0.
    d = T0 + D
    seed(
        desk,
        "d1",
        status="escalated",
        route="escalation",
        priority="urgent",
        emergency=True,
        created=d,
        messages=[("customer", d), ("agent", d + 2 * S)],
        marks=[("escalated", d + 2 * S)],
    )
    # e1 technical/unclassified, Tue +1 h: the crew failed. Both clocks breached. SLA decided 2, met 0.
    e = T0 + D + H
    seed(desk, "e1", status="failed", route="technical", priority=None, created=e, messages=[("customer", e)])
    # Outside the window: not counted.
    seed(desk, "old", status="answered", created=T0 - 10 * D, messages=[("customer", T0 - 10 * D)])


def test_metrics_match_the_hand_computed_numbers(desk: Desk) -> None:
    seed_history(desk)
    policies = policies_for(desk.settings.sla_policy_file, 0.8)
    with desk.session_factory() as session:
        metrics = desk_metrics(session, policies, now=NOW, days=3)
    overall = metrics.overall
    assert (overall.cases, overall.responded, overall.first_response_avg_seconds) == (5, 3, 1810.0)  # (20+5400+10)/3
    assert (overall.resolved, overall.resolution_avg_seconds) == (1, 7200.0)
    assert (overall.automated, overall.automation_rate) == (2, 0.4)
    assert (overall.handed_off, overall.handoff_rate) == (2, 0.4)
    assert (overall.ever_resolved, overall.reopened, overall.reopen_rate) == (2, 1, 0.5)
    assert (overall.sla_decided, overall.sla_met, overall.sla_met_rate) == (9, 4, 0.4444)

    routes = {r.key: r for r in metrics.by_route}
    assert list(routes) == ["billing", "escalation", "technical"]
    billing, escalation, technical = routes["billing"], routes["escalation"], routes["technical"]
    assert (billing.cases, billing.first_response_avg_seconds, billing.automation_rate, billing.reopen_rate) == (
        2,
        15.0,
        1.0,
        1.0,
    )
    assert (billing.handoff_rate, billing.sla_met_rate, billing.resolution_avg_seconds) == (0.0, 1.0, None)
    assert (escalation.cases, escalation.responded, escalation.first_response_avg_seconds) == (1, 0, None)
    assert (escalation.handoff_rate, escalation.reopen_rate, escalation.sla_met_rate) == (1.0, None, 0.0)
    assert (technical.first_response_avg_seconds, technical.resolution_avg_seconds) == (5400.0, 7200.0)
    assert (technical.handoff_rate, technical.reopen_rate, technical.sla_decided, technical.sla_met_rate) == (
        0.5,
        0.0,
        4,
        0.25,
    )

    assert [(r.key, r.cases) for r in metrics.by_priority] == [("urgent", 1), ("high", 1), ("medium", 2), ("unset", 1)]
    days = {r.key: r for r in metrics.by_day}
    monday, tuesday = days["2026-03-02"], days["2026-03-03"]
    assert (monday.cases, monday.automation_rate, monday.handoff_rate, monday.sla_met_rate) == (3, 0.6667, 0.3333, 0.8)
    assert (tuesday.cases, tuesday.automation_rate, tuesday.handoff_rate, tuesday.sla_met_rate) == (2, 0.0, 0.5, 0.0)
    assert list(days) == ["2026-03-02", "2026-03-03"]

    lines = metrics_csv(metrics).splitlines()
    assert lines[0].startswith("dimension,key,cases,responded,first_response_avg_seconds,resolved,")
    assert lines[1] == "all,all,5,3,1810.0,1,7200.0,2,0.4,2,0.4,2,1,0.5,9,4,0.4444"
    assert lines[3] == "route,escalation,1,0,,0,,0,0.0,1,1.0,0,0,,2,0,0.0"
    assert len(lines) == 1 + 1 + 3 + 4 + 2
