"""`SupportAgentExecutor`: CrewAI's `AgentExecutor` without a pydantic class build per instance, and with
its steps run on the thread that runs it instead of a fresh thread pool per run.

CrewAI 1.15 makes a new `AgentExecutor` (itself a Flow) for every agent of every crew kickoff, and each
one's Flow initialisation builds its initial state through `Flow._create_initial_state`: for a state type
that is a plain `BaseModel` (`AgentExecutorState`) that declares a brand-new class `StateWithId(FlowState,
AgentExecutorState)`, i.e. a full pydantic schema build, ~7 ms of CPU out of ~11 ms per executor, on every
agent of every request. The executor then replaces that state with its own `AgentExecutorState()` anyway.

The same combined class, built once per process and named as the executor's state type, takes the
`FlowState` branch instead (a plain instantiation). Nothing else changes: the state still is an
`AgentExecutorState` (with a FlowState id), and every method is CrewAI's. Agents get it through the
public `Agent(executor_class=...)` option.

Steps on the caller's thread: the executor is a Flow, and every synchronous `kickoff()` of a Flow runs
`asyncio.run` on a brand-new event loop whose default executor is a brand-new thread pool; each step of
the flow (~8 per model call: plan check, iteration check, the model call, routing, finalize) is handed to
that pool with `asyncio.to_thread`, and `asyncio.run` then starts one more thread just to shut the pool
down. Per request (two agent runs) that is ~4 threads created and ~16 thread hand-offs, all of it CPU
under the GIL: measured with the fake hosted server, ~38 ms of CPU per request instead of ~49 ms. CrewAI
does this so that a step may call `Agent.kickoff()` synchronously; the executor's own steps never do
(they call the model and the tools, which are synchronous here), so on the loop that our own `kickoff()`
created, the steps run in place (`InlineExecutor`). A loop that is not ours (CrewAI's `invoke_async`
path, when an agent runs inside someone else's event loop) is left alone. A tool whose `_run` is a
coroutine would need a thread (CrewAI runs it with `asyncio.run`): our agents' only tool is synchronous.

Import only after `crew.bootstrap.load_crewai(settings)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar, ParamSpec, TypeVar, cast

from crewai.agents.agent_executor import AgentExecutor, AgentExecutorState
from crewai.flow.flow import FlowState
from crewai.flow.flow_definition import FlowDefinition
from pydantic import PrivateAttr

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once on the submitting thread and returns its finished future.

    A `ThreadPoolExecutor` because asyncio's `set_default_executor` accepts nothing else; it never starts a
    thread. Exceptions land in the future, as with a pool, so asyncio re-raises them in the awaiting step.
    Only ever a loop's default executor, set by `SupportAgentExecutor` on a loop of its own.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="inline")

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        # On a loop (asyncio's `run_in_executor`, the only caller of a loop's default executor), an asyncio
        # future: `run_in_executor` passes it through `wrap_future` as it is, whereas a concurrent future is
        # chained to the loop with `call_soon_threadsafe`, i.e. a self-pipe write and an extra loop wake-up
        # per step (~7% of a hosted request's CPU).
        future: Future[T] | asyncio.Future[T] = loop.create_future() if loop is not None else Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised in the awaiting step, as with a pool
            future.set_exception(exc)
        else:
            future.set_result(result)
        return cast("Future[T]", future)


class ExecutorState(FlowState, AgentExecutorState):
    """What CrewAI's `StateWithId` would be, declared once instead of once per executor."""


class SupportAgentExecutor(AgentExecutor):
    """CrewAI's executor, with its Flow state type resolved once (see the module docstring)."""

    # Where `Flow[AgentExecutorState]` records the state type (CrewAI's `Flow.__class_getitem__` sets this
    # same class attribute); a FlowState subclass there is instantiated directly, with no class built.
    _initial_state_t: ClassVar[type[FlowState]] = ExecutorState
    # Set by our synchronous `kickoff()` for the `kickoff_async()` it runs on its own new loop.
    _own_loop: bool = PrivateAttr(default=False)

    def kickoff(self, *args: Any, **kwargs: Any) -> Any:
        # CrewAI's kickoff runs kickoff_async on an event loop it creates for this run alone (asyncio.run,
        # in this thread or in a one-off thread when this thread already runs a loop).
        self._own_loop = True
        try:
            return super().kickoff(*args, **kwargs)
        finally:
            self._own_loop = False

    async def kickoff_async(self, *args: Any, **kwargs: Any) -> Any:
        if self._own_loop:
            # Cleared first: a nested run (CrewAI's human-feedback loop calls kickoff again) sets it anew.
            self._own_loop = False
            asyncio.get_running_loop().set_default_executor(InlineExecutor())
        return await super().kickoff_async(*args, **kwargs)

    @classmethod
    def flow_definition(cls) -> FlowDefinition:
        # CrewAI collects a Flow's steps from the class's own namespace only, so a subclass would have none:
        # the executor's steps are exactly CrewAI's.
        return AgentExecutor.flow_definition()
