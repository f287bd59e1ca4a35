"""Every place the crew leans on CrewAI's private internals (CrewAI 1.15), in one module.

Each one is checked by `tests/crew/test_compat.py`, which fails when CrewAI changes what it relies on;
after a CrewAI upgrade, run that file first. Import only after `crew.bootstrap.load_crewai(config)`.

1. `SupportAgentExecutor`: an agent executor whose steps run on the thread that runs it (speed; the
   measured figure is in docs/performance.md, "Private internals: kept and dropped").

   CrewAI's `AgentExecutor` is a Flow, and every synchronous `kickoff()` of a Flow runs `asyncio.run` on a
   brand-new event loop whose default executor is a brand-new thread pool; each step of the flow (~8 per
   model call: plan check, iteration check, the model call, routing, finalize) is handed to that pool with
   `asyncio.to_thread`, and `asyncio.run` then starts one more thread just to shut the pool down. All of it
   is CPU under the GIL. CrewAI does this so that a step may call `Agent.kickoff()` synchronously; the
   executor's own steps never do (they call the model and the tools, which are synchronous here), so on
   the loop that our own `kickoff()` created, the steps run in place (`InlineExecutor`). A loop that is not
   ours (CrewAI's `invoke_async` path, when an agent runs inside someone else's event loop) is left alone.
   A tool whose `_run` is a coroutine would need a thread (CrewAI runs it with `asyncio.run`): our agents'
   only tool is synchronous.

   Relies on: `Flow.kickoff` running `kickoff_async` on a loop it creates for that run alone, the steps
   reaching the loop's default executor through `asyncio.to_thread`, and `Flow.flow_definition()` being
   built from the class's own namespace (so a subclass must hand back its parent's).

2. `PrivateCrew`: a `Crew` that never writes `latest_kickoff_task_outputs.db` (privacy, not speed).

   That store keeps every task's inputs and outputs (the customer's message and our reply) and has no off
   switch in CrewAI 1.15; its handler is the private attribute `Crew._task_output_handler`, replaced here
   by `NullTaskOutputStorage`, which keeps nothing. Replay (`crewai replay`) is the only feature that reads
   it. Relies on: that attribute's name and the four methods CrewAI calls on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar, cast

from crewai import Crew
from crewai.agents.agent_executor import AgentExecutor
from crewai.flow.flow_definition import FlowDefinition
from pydantic import PrivateAttr

P = ParamSpec("P")
T = TypeVar("T")


# --- 1. steps on the caller's thread --------------------------------------------------------------------
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
        # per step.
        future: Future[T] | asyncio.Future[T] = loop.create_future() if loop is not None else Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised in the awaiting step, as with a pool
            future.set_exception(exc)
        else:
            future.set_result(result)
        return cast("Future[T]", future)


class SupportAgentExecutor(AgentExecutor):
    """CrewAI's executor, with its steps run on the thread that runs it (see the module docstring).

    Agents get it through the public `Agent(executor_class=...)` option.
    """

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


# --- 2. no kickoff-outputs database -----------------------------------------------------------------------
class NullTaskOutputStorage:
    """Stands in for CrewAI's `TaskOutputStorageHandler`: keeps nothing, so no customer text hits disk."""

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        del task_index, log

    def add(
        self,
        task: Any,
        output: dict[str, Any],
        task_index: int,
        inputs: dict[str, Any] | None = None,
        was_replayed: bool = False,
    ) -> None:
        del task, output, task_index, inputs, was_replayed

    def reset(self) -> None:
        return None

    def load(self) -> list[dict[str, Any]] | None:
        return None


class PrivateCrew(Crew):
    """A `Crew` that never writes `latest_kickoff_task_outputs.db` (customer text) to disk."""

    _task_output_handler: Any = PrivateAttr(default_factory=NullTaskOutputStorage)
