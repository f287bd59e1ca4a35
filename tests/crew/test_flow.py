"""The support flow: routing decisions, forced routes, emergencies, and what the flow must not create."""

from __future__ import annotations

import pytest

from crew.models import Category, Classification, Priority, Route

pytestmark = pytest.mark.slow


def _classification(
    category: Category, *, is_complex: bool = False, secondary: tuple[Category, ...] = ()
) -> Classification:
    return Classification(
        category=category,
        priority=Priority.MEDIUM,
        confidence=0.9,
        is_complex=is_complex,
        secondary_categories=list(secondary),
    )


def test_choose_route_order_emergency_then_forced_then_classifier(local_desk) -> None:
    from crew.flow import choose_route

    billing = _classification(Category.BILLING)
    assert choose_route(billing, Route.AUTO, False) is Route.BILLING
    assert choose_route(billing, Route.TECHNICAL, False) is Route.TECHNICAL
    assert choose_route(billing, Route.TECHNICAL, True) is Route.ESCALATION
    assert choose_route(_classification(Category.BILLING, is_complex=True), Route.AUTO, False) is Route.COMPLEX


def test_complex_routes_are_the_main_and_secondary_categories_in_fixed_order(local_desk) -> None:
    from crew.flow import complex_routes

    both = _classification(Category.TECHNICAL, is_complex=True, secondary=(Category.BILLING,))
    assert complex_routes(both) == [Route.BILLING, Route.TECHNICAL]
    assert complex_routes(_classification(Category.GENERAL, is_complex=True)) == [Route.GENERAL]


def _run(local_desk, message: str, **inputs: object):  # type: ignore[no-untyped-def]
    from crew.crews import fence
    from crew.flow import SupportFlow

    flow = SupportFlow(local_desk.parts)
    flow.kickoff(inputs={"message": fence(message), "history": "", **inputs})
    return flow


@pytest.mark.parametrize("forced", [Route.BILLING, Route.TECHNICAL, Route.ESCALATION, Route.GENERAL, Route.COMPLEX])
def test_forced_routes_skip_the_decision_but_keep_the_classification(local_desk, forced: Route) -> None:
    flow = _run(local_desk, "The app crashes when I log in", forced_route=forced.value)
    assert flow.state.route is forced
    assert flow.state.classification is not None
    assert flow.state.classification.category is Category.TECHNICAL
    assert flow.state.reply
    assert "classify" in flow.state.stage_seconds and "answer" in flow.state.stage_seconds


def test_emergency_beats_a_forced_route(local_desk) -> None:
    flow = _run(local_desk, "How do I update my card?", forced_route="billing", emergency=True)
    assert flow.state.route is Route.ESCALATION


def test_auto_route_follows_the_classifier(local_desk) -> None:
    flow = _run(local_desk, "I was charged twice this month")
    assert flow.state.route is Route.BILLING


def test_crews_have_no_memory_knowledge_or_verbosity(local_desk) -> None:
    from crew.compat.crewai_internals import PrivateCrew
    from crew.crews import ComplexCrew

    crew = ComplexCrew(local_desk.parts, [Route.BILLING, Route.TECHNICAL]).crew()
    assert isinstance(crew, PrivateCrew)
    assert crew.memory is False and crew.verbose is False and crew.knowledge_sources is None
    assert [task.name for task in crew.tasks] == [
        "analyse_issues",
        "answer_billing",
        "answer_technical",
        "write_final_reply",
    ]
    for agent in crew.agents:
        assert agent.llm is local_desk.models.local  # never CrewAI's silent OpenAI default
        assert agent.verbose is False and not agent.allow_delegation
    specialists = [agent for agent in crew.agents if agent.tools]
    assert len(specialists) == 2
