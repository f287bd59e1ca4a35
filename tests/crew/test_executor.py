"""`SupportAgentExecutor`: CrewAI's agent executor, without a pydantic class built per instance."""

from __future__ import annotations

import pytest

from crew.models import Route

pytestmark = pytest.mark.slow


def test_our_agents_run_on_the_support_executor(local_desk) -> None:
    from crew.crews import ClassifierCrew, SpecialistCrew
    from crew.executor import SupportAgentExecutor

    for crew in (ClassifierCrew(local_desk.parts).crew(), SpecialistCrew(local_desk.parts, Route.BILLING).crew()):
        assert all(agent.executor_class is SupportAgentExecutor for agent in crew.agents)


def test_its_steps_are_exactly_crewais(local_desk) -> None:
    from crewai.agents.agent_executor import AgentExecutor

    from crew.executor import SupportAgentExecutor

    assert SupportAgentExecutor.flow_definition() == AgentExecutor.flow_definition()
    assert SupportAgentExecutor.flow_definition().methods  # not the empty definition of a bare subclass


def test_building_an_executor_declares_no_class(local_desk) -> None:
    from crewai.agents.agent_executor import AgentExecutorState
    from crewai.flow.flow import FlowState

    from crew.crews import SpecialistCrew
    from crew.executor import SupportAgentExecutor

    agent = SpecialistCrew(local_desk.parts, Route.BILLING).crew().agents[0]
    before = len(FlowState.__subclasses__())
    executors = [SupportAgentExecutor(llm=local_desk.models.local, agent=agent) for _ in range(3)]
    # CrewAI's own executor declares a `StateWithId` FlowState subclass per instance (~7 ms of CPU each).
    assert len(FlowState.__subclasses__()) <= before
    assert all(isinstance(executor.state, AgentExecutorState) for executor in executors)
