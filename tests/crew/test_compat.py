"""What `crew/compat/` relies on in other libraries' private internals, checked by shape.

Run this file first after upgrading CrewAI, the OpenAI SDK or pydantic. A failure here names the private
thing that moved; then either adapt the compat module or drop its speed-up (and re-measure, see
docs/performance.md, "Private internals: kept and dropped").
"""

from __future__ import annotations

import asyncio
import inspect
from contextvars import ContextVar
from typing import TypeVar

import pytest

from crew.compat.openai_parsed_classes import ParsedResponseClasses

pytestmark = pytest.mark.slow  # imports crewai


@pytest.fixture(scope="module")
def crewai_loaded(local_desk) -> None:  # type: ignore[no-untyped-def]
    """CrewAI imported the way the crew imports it (switches set first)."""


# --- crewai_internals: SupportAgentExecutor -----------------------------------------------------------------
def test_crewai_agent_executor_is_a_flow_run_by_asyncio_run_on_a_loop_of_its_own(crewai_loaded: None) -> None:
    from crewai.agents.agent_executor import AgentExecutor
    from crewai.flow.flow import Flow

    assert issubclass(AgentExecutor, Flow)
    # Our kickoff marks the loop as ours, our kickoff_async installs the inline executor on it: both must still
    # be the methods CrewAI's synchronous run goes through, and the loop must still be a fresh one per run.
    assert inspect.iscoroutinefunction(Flow.kickoff_async)
    assert "asyncio.run(" in inspect.getsource(Flow.kickoff)
    assert "self.kickoff()" in inspect.getsource(AgentExecutor.invoke)


def test_crewai_hands_flow_steps_to_the_loops_default_executor(crewai_loaded: None) -> None:
    import crewai.flow.runtime as runtime

    # `asyncio.to_thread` is what reaches the loop's default executor (our InlineExecutor).
    assert "asyncio.to_thread(" in inspect.getsource(runtime)


def test_a_subclass_of_crewais_executor_needs_its_parents_flow_definition(crewai_loaded: None) -> None:
    from crewai.agents.agent_executor import AgentExecutor

    from crew.compat.crewai_internals import SupportAgentExecutor

    # CrewAI builds a Flow's definition from the class's own namespace: a bare subclass has no steps, which
    # is why SupportAgentExecutor hands back its parent's definition.
    bare = type("BareExecutor", (AgentExecutor,), {"__module__": __name__})
    assert not bare.flow_definition().methods
    assert SupportAgentExecutor.flow_definition() == AgentExecutor.flow_definition()
    assert SupportAgentExecutor.flow_definition().methods


def test_the_inline_executor_is_accepted_as_a_loops_default_executor() -> None:
    from crew.compat.crewai_internals import InlineExecutor

    async def on_a_loop() -> int:
        asyncio.get_running_loop().set_default_executor(InlineExecutor())
        return await asyncio.to_thread(lambda: 7)

    assert asyncio.run(on_a_loop()) == 7


# --- crewai_internals: PrivateCrew ------------------------------------------------------------------------
def test_crews_kickoff_outputs_store_is_still_the_private_handler_we_replace(crewai_loaded: None) -> None:
    from crewai import Crew
    from crewai.utilities.task_output_storage_handler import TaskOutputStorageHandler

    from crew.compat.crewai_internals import NullTaskOutputStorage, PrivateCrew

    attribute = Crew.__private_attributes__["_task_output_handler"]
    assert attribute.default_factory is TaskOutputStorageHandler
    public = {name for name in vars(TaskOutputStorageHandler) if not name.startswith("_")}
    assert public == {"update", "add", "reset", "load"}
    for name in public:
        theirs = list(inspect.signature(getattr(TaskOutputStorageHandler, name)).parameters)
        ours = list(inspect.signature(getattr(NullTaskOutputStorage, name)).parameters)
        assert ours == theirs, name
    assert PrivateCrew.__private_attributes__["_task_output_handler"].default_factory is NullTaskOutputStorage


# --- openai_parsed_classes --------------------------------------------------------------------------------
def test_pydantics_generic_cache_and_the_sdks_type_variable_are_where_we_read_them() -> None:
    from openai.lib._parsing._completions import ResponseFormatT, parse_chat_completion
    from pydantic._internal._generics import _GENERIC_TYPES_CACHE

    assert isinstance(_GENERIC_TYPES_CACHE, ContextVar)
    assert isinstance(ResponseFormatT, TypeVar)
    assert {"response_format", "input_tools", "chat_completion"} <= set(
        inspect.signature(parse_chat_completion).parameters
    )


def test_the_parsed_classes_are_prebuilt() -> None:
    # `build()` only logs when the private names move (the desk keeps working, slower): this fails instead.
    prebuilt = ParsedResponseClasses.build()
    assert [cls.__name__ for cls in prebuilt.classes] == [
        "ParsedChatCompletionMessage[~ResponseFormatT]",
        "ParsedChoice[~ResponseFormatT]",
        "ParsedChatCompletion[~ResponseFormatT]",
    ]
