"""`SupportAgentExecutor`: CrewAI's `AgentExecutor` without a pydantic class build per instance.

CrewAI 1.15 makes a new `AgentExecutor` (itself a Flow) for every agent of every crew kickoff, and each
one's Flow initialisation builds its initial state through `Flow._create_initial_state`: for a state type
that is a plain `BaseModel` (`AgentExecutorState`) that declares a brand-new class `StateWithId(FlowState,
AgentExecutorState)`, i.e. a full pydantic schema build, ~7 ms of CPU out of ~11 ms per executor, on every
agent of every request. The executor then replaces that state with its own `AgentExecutorState()` anyway.

The same combined class, built once per process and named as the executor's state type, takes the
`FlowState` branch instead (a plain instantiation). Nothing else changes: the state still is an
`AgentExecutorState` (with a FlowState id), and every method is CrewAI's. Agents get it through the
public `Agent(executor_class=...)` option. Import only after `crew.bootstrap.load_crewai(settings)`.
"""

from __future__ import annotations

from typing import ClassVar

from crewai.agents.agent_executor import AgentExecutor, AgentExecutorState
from crewai.flow.flow import FlowState
from crewai.flow.flow_definition import FlowDefinition


class ExecutorState(FlowState, AgentExecutorState):
    """What CrewAI's `StateWithId` would be, declared once instead of once per executor."""


class SupportAgentExecutor(AgentExecutor):
    """CrewAI's executor, with its Flow state type resolved once (see the module docstring)."""

    # Where `Flow[AgentExecutorState]` records the state type (CrewAI's `Flow.__class_getitem__` sets this
    # same class attribute); a FlowState subclass there is instantiated directly, with no class built.
    _initial_state_t: ClassVar[type[FlowState]] = ExecutorState

    @classmethod
    def flow_definition(cls) -> FlowDefinition:
        # CrewAI collects a Flow's steps from the class's own namespace only, so a subclass would have none:
        # the executor's steps are exactly CrewAI's.
        return AgentExecutor.flow_definition()
