"""`SupportAgentExecutor`: CrewAI's agent executor, its steps run on the thread that runs the agent."""

from __future__ import annotations

import pytest

from crew.models import Route

pytestmark = pytest.mark.slow


def test_our_agents_run_on_the_support_executor(local_desk) -> None:
    from crew.compat.crewai_internals import SupportAgentExecutor
    from crew.crews import ClassifierCrew, SpecialistCrew

    for crew in (ClassifierCrew(local_desk.parts).crew(), SpecialistCrew(local_desk.parts, Route.BILLING).crew()):
        assert all(agent.executor_class is SupportAgentExecutor for agent in crew.agents)


def test_its_steps_are_exactly_crewais(local_desk) -> None:
    from crewai.agents.agent_executor import AgentExecutor

    from crew.compat.crewai_internals import SupportAgentExecutor

    assert SupportAgentExecutor.flow_definition() == AgentExecutor.flow_definition()
    assert SupportAgentExecutor.flow_definition().methods  # not the empty definition of a bare subclass


def test_steps_run_on_the_thread_that_runs_the_agent(local_desk, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from crew.crews import SpecialistCrew, fence, kickoff
    from crew.local_model.llm import LocalLLM

    seen: list[int] = []
    respond = LocalLLM.respond

    def recording(self: LocalLLM, messages: object, tools: object = None) -> object:
        seen.append(threading.get_ident())
        return respond(self, messages, tools)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalLLM, "respond", recording)
    crew = SpecialistCrew(local_desk.parts, Route.BILLING).crew()
    inputs = {"message": fence("I was charged twice"), "history": "", "emergency": "no", "route": "billing"}
    output = kickoff(crew, {**inputs, "articles": ""})
    assert "[KB-" in output.raw
    # The model (a step of the executor's flow) ran here, not on a thread of a per-run pool.
    assert seen and set(seen) == {threading.get_ident()}


def test_the_inline_executor_runs_at_once_and_keeps_exceptions_in_the_future() -> None:
    import asyncio

    from crew.compat.crewai_internals import InlineExecutor

    executor = InlineExecutor()
    assert executor.submit(lambda: 41 + 1).result() == 42

    def failing() -> None:
        raise LookupError("no article")

    with pytest.raises(LookupError):
        executor.submit(failing).result()

    async def on_a_loop() -> int:
        asyncio.get_running_loop().set_default_executor(InlineExecutor())
        return await asyncio.to_thread(lambda: 7)

    assert asyncio.run(on_a_loop()) == 7
