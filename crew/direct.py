"""A one-agent, one-task CrewAI crew run as direct model calls, with the prompt CrewAI itself renders.

Why: the model call is a small part of a CrewAI kickoff's CPU. Around it, a kickoff builds and runs the
crew, the task and the agent executor (a Flow of ~30 steps, each scheduled through an event loop made for
that run), and hands a dozen events to the event bus's thread pool: ~8 ms of CPU per kickoff beside ~3 ms
for the call itself (docs/performance.md, "CPU per hosted request"). With a hosted model every request
pays it twice (classifier and specialist), and the CPU per request is what caps the desk's throughput.

How: once per (agent, task), CrewAI runs the crew for real with a `PromptRecorder` standing in for the
agent's model and placeholder inputs (`sentinel(name)`). CrewAI renders everything it would send (system
and user messages, the tool schemas, the structured-output model, stop words) and the recorder keeps the
first call. A request fills the placeholders into that template in one pass (customer text is never
scanned again, so it cannot smuggle in a placeholder) and calls the agent's own model object: the same
provider client, retries, hosted-call policy and CrewAI LLM events as in a kickoff. When the model asks for
a tool, the tool runs and its result goes back in the shape CrewAI's executor uses, up to the agent's
`max_iter` calls, then CrewAI's own forced-final-answer call.

`tests/crew/test_direct.py` holds this to CrewAI: for the same inputs and the same model answers, every
message a direct run sends (tool round included) equals what a CrewAI kickoff sends, and so do the outputs.
A sequential crew of several agents (the complex crew) runs the same way, task by task (`DirectCrew`): CrewAI's
context block of each task holds the earlier tasks' outputs as placeholders.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from crewai import BaseLLM, Crew, CrewOutput
from crewai.llms.base_llm import call_stop_override
from crewai.tools import BaseTool
from crewai.utilities.agent_utils import (
    extract_tool_call_info,
    format_native_tool_output_for_agent,
    handle_max_iterations_exceeded,
    is_tool_call_list,
    parse_tool_call_args,
)
from crewai.utilities.printer import Printer
from crewai.utilities.string_utils import sanitize_tool_name
from pydantic import BaseModel, PrivateAttr

# Private-use code points: never produced by CrewAI's own text, so each occurrence in a rendered prompt is
# exactly one placeholder.
_SENTINEL_OPEN = "\ue000"
_SENTINEL_CLOSE = "\ue001"
_SENTINEL = re.compile(f"{_SENTINEL_OPEN}([a-z_0-9]+){_SENTINEL_CLOSE}")


def calls_tools_natively(llm: BaseLLM) -> bool:
    """Whether CrewAI would use the model's native tool calls (its own test: not every model class has it).

    Direct tasks need it: CrewAI's text protocol for other models ("Action:" / "Final Answer:") has its own
    parsing, which a direct task does not repeat; such models keep full kickoffs."""
    supports = getattr(llm, "supports_function_calling", None)
    return callable(supports) and bool(supports())


def sentinel(name: str) -> str:
    """The placeholder that stands for input `name` while CrewAI renders a template."""
    return f"{_SENTINEL_OPEN}{name}{_SENTINEL_CLOSE}"


@dataclass(frozen=True)
class RecordedCall:
    """What CrewAI passed to the model on one call."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    response_model: type[BaseModel] | None
    stop: list[str] | None


class PromptRecorder(BaseLLM):
    """Stands in for an agent's model during one kickoff: keeps every call and answers `reply`.

    It reports the capabilities of the model it stands for (native tools, stop words, context window),
    because CrewAI renders different prompts for different capabilities.
    """

    llm_type: str = "prompt-recorder"
    provider: str = "prompt-recorder"
    _stands_for: BaseLLM = PrivateAttr()
    _reply: Callable[[type[BaseModel] | None], Any] = PrivateAttr()
    _calls: list[RecordedCall] = PrivateAttr(default_factory=list)

    def __init__(self, *, stands_for: BaseLLM, reply: Callable[[type[BaseModel] | None], Any]) -> None:
        super().__init__(model=stands_for.model)
        self._stands_for = stands_for
        self._reply = reply

    @property
    def calls(self) -> list[RecordedCall]:
        return self._calls

    def supports_function_calling(self) -> bool:
        return calls_tools_natively(self._stands_for)

    def supports_stop_words(self) -> bool:
        return self._stands_for.supports_stop_words()

    def get_context_window_size(self) -> int:
        return self._stands_for.get_context_window_size()

    def call(
        self,
        messages: str | list[Any],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any | None = None,
        from_agent: Any | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> Any:
        del callbacks, available_functions, from_task, from_agent
        listed = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        stop = list(self.stop_sequences) or None
        self._calls.append(RecordedCall(copy.deepcopy(listed), copy.deepcopy(tools), response_model, stop))
        return self._reply(response_model)


@dataclass(frozen=True)
class DirectOutput:
    """A direct run's answer: the structured model when the task asks for one, else the text."""

    raw: str
    pydantic: BaseModel | None
    tool_outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectTask:
    """One agent's one task, rendered once by CrewAI, run per request as direct model calls. Thread-safe:
    a run keeps its messages to itself and only reads the template."""

    llm: BaseLLM
    template: RecordedCall
    tools: Mapping[str, BaseTool]
    max_iter: int

    @classmethod
    def record(
        cls,
        build_crew: Callable[[BaseLLM], Crew],
        llm: BaseLLM,
        input_names: Sequence[str],
        sample_reply: Callable[[type[BaseModel] | None], Any],
    ) -> DirectTask:
        """Kick the crew (one agent, one task) off once with a recorder for `llm` and placeholder inputs."""
        recorder = PromptRecorder(stands_for=llm, reply=sample_reply)
        crew_ = build_crew(recorder)
        if len(crew_.agents) != 1 or len(crew_.tasks) != 1:
            raise ValueError("a direct task needs a crew of one agent and one task")
        output = crew_.kickoff(inputs={name: sentinel(name) for name in input_names})
        if not isinstance(output, CrewOutput) or not recorder.calls:
            raise ValueError("the crew made no model call to record")
        return cls.of_agent(llm, recorder.calls[0], crew_.agents[0])

    @classmethod
    def of_agent(cls, llm: BaseLLM, template: RecordedCall, agent: Any) -> DirectTask:
        tools = {sanitize_tool_name(tool.name): tool for tool in agent.tools or []}
        return cls(llm=llm, template=template, tools=tools, max_iter=agent.max_iter)

    def render(self, inputs: Mapping[str, str]) -> list[dict[str, Any]]:
        """The template's messages with the inputs filled in (one pass: inserted text is not re-scanned)."""

        def fill(match: re.Match[str]) -> str:
            return str(inputs[match.group(1)])

        messages = copy.deepcopy(self.template.messages)
        for message in messages:
            if isinstance(message.get("content"), str):
                message["content"] = _SENTINEL.sub(fill, message["content"])
        return messages

    def run(self, inputs: Mapping[str, str]) -> DirectOutput:
        messages = self.render(inputs)
        tool_outputs: list[str] = []
        for _ in range(self.max_iter):
            answer = self._call(messages)
            if isinstance(answer, list) and answer and is_tool_call_list(answer):
                tool_outputs.extend(self._run_tools(answer, messages))
                continue
            return self._output(answer, tool_outputs)
        # CrewAI's own last call when an agent runs out of iterations: a user turn asking for the answer.
        forced = handle_max_iterations_exceeded(Printer(), messages, self.llm, [], verbose=False)  # type: ignore[arg-type]
        return self._output(forced.output, tool_outputs)

    def _call(self, messages: list[dict[str, Any]]) -> Any:
        stop = self.template.stop
        with call_stop_override(self.llm, stop) if stop else nullcontext():
            # CrewAI's LLMMessage is a TypedDict of this shape.
            return self.llm.call(
                messages,  # type: ignore[arg-type]
                tools=self.template.tools,
                response_model=None if self.template.tools else self.template.response_model,
            )

    def _run_tools(self, calls: list[Any], messages: list[dict[str, Any]]) -> list[str]:
        """Runs the requested tools and appends the assistant's request and each result, as CrewAI does."""
        infos = [info for info in (extract_tool_call_info(call) for call in calls) if info is not None]
        request: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                    },
                }
                for call_id, name, arguments in infos
            ],
        }
        if calls and all(type(call).__qualname__ == "Part" for call in calls):
            # Gemini's tool calls travel back as its own parts too (CrewAI's executor does the same).
            request["raw_tool_call_parts"] = list(calls)
        messages.append(request)
        results = []
        for call_id, name, arguments in infos:
            result = self._run_tool(call_id, name, arguments)
            messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": result})
            results.append(result)
        return results

    def _run_tool(self, call_id: str, name: str, arguments: dict[str, Any] | str) -> str:
        parsed, error = parse_tool_call_args(arguments, name, call_id)
        if error is not None:
            return str(error["result"])
        tool = self.tools.get(name)
        if tool is None:
            return "Tool not found"
        try:
            raw = tool.run(**(parsed or {}))
        except Exception as exc:  # noqa: BLE001 - the model reads the error and answers, as in CrewAI
            return f"Error executing tool: {exc}"
        return format_native_tool_output_for_agent(tool, raw)

    def _output(self, answer: Any, tool_outputs: list[str]) -> DirectOutput:
        model = self.template.response_model
        if isinstance(answer, BaseModel):
            return DirectOutput(raw=answer.model_dump_json(), pydantic=answer, tool_outputs=tuple(tool_outputs))
        text = str(answer)
        structured = model.model_validate_json(_json_part(text)) if model is not None else None
        return DirectOutput(raw=text, pydantic=structured, tool_outputs=tuple(tool_outputs))


def _json_part(text: str) -> str:
    """The JSON object in a model's text answer (models sometimes wrap it in prose or a code fence)."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


class NotRecordable(ValueError):
    """The crew's kickoff does not have the shape a direct crew repeats."""


def output_name(index: int) -> str:
    """The placeholder for the output of a sequential crew's task `index` in later tasks' context."""
    return f"output_{index}"


@dataclass(frozen=True)
class DirectCrew:
    """A sequential crew of one-agent tasks (the complex crew) run as direct tasks, in order.

    CrewAI hands each task the outputs of the tasks in its `context` ("This is the context you're working
    with:", joined by its separator). The recording kickoff answers every task with a text that occurs nowhere
    else (`sample_reply(response_model, marker)`), so each task's recorded prompt holds the earlier outputs
    verbatim; they are replaced by placeholders, which a run fills with the outputs it got. Every task but
    the last must reach a later prompt, and each task must make exactly one recorded call: anything else is
    not the shape this class repeats, and recording raises `NotRecordable` (the caller keeps the kickoff).
    """

    tasks: tuple[DirectTask, ...]

    @classmethod
    def record(
        cls,
        build_crew: Callable[[BaseLLM], Crew],
        llm: BaseLLM,
        input_names: Sequence[str],
        sample_reply: Callable[[type[BaseModel] | None, str], Any],
    ) -> DirectCrew:
        replies = itertools.count()
        marker = f"recorded-{uuid.uuid4().hex}"
        recorder = PromptRecorder(stands_for=llm, reply=lambda model: sample_reply(model, f"{marker}-{next(replies)}"))
        crew_ = build_crew(recorder)
        output = crew_.kickoff(inputs={name: sentinel(name) for name in input_names})
        if not isinstance(output, CrewOutput) or len(recorder.calls) != len(crew_.tasks):
            raise NotRecordable("a direct crew needs exactly one recorded model call per task")
        outputs = [task_output.raw for task_output in output.tasks_output]
        templates = [_with_placeholders(call, outputs[:index]) for index, call in enumerate(recorder.calls)]
        for index, raw in enumerate(outputs[:-1]):
            if marker not in raw or not any(sentinel(output_name(index)) in _text(t) for t in templates[index + 1 :]):
                raise NotRecordable(f"the output of task {index} reaches no later task's prompt")
        return cls(
            tuple(DirectTask.of_agent(llm, t, task.agent) for t, task in zip(templates, crew_.tasks, strict=True))
        )

    def run(self, inputs: Mapping[str, str]) -> DirectOutput:
        """Each task in order, with the outputs so far; the last task's output, with every task's tool outputs."""
        values = dict(inputs)
        tool_outputs: list[str] = []
        output: DirectOutput | None = None
        for index, task in enumerate(self.tasks):
            output = task.run(values)
            values[output_name(index)] = output.raw
            tool_outputs.extend(output.tool_outputs)
        assert output is not None  # a recorded crew has at least one task
        return DirectOutput(raw=output.raw, pydantic=output.pydantic, tool_outputs=tuple(tool_outputs))


def _with_placeholders(call: RecordedCall, earlier: Sequence[str]) -> RecordedCall:
    messages = copy.deepcopy(call.messages)
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            for index, raw in enumerate(earlier):
                content = content.replace(raw, sentinel(output_name(index)))
            message["content"] = content
    return RecordedCall(messages, call.tools, call.response_model, call.stop)


def _text(call: RecordedCall) -> str:
    return "\n".join(m["content"] for m in call.messages if isinstance(m.get("content"), str))


Recorded = TypeVar("Recorded", DirectTask, DirectCrew)


@dataclass
class DirectTasks:
    """Recorded direct tasks and crews by key, each recorded on first use. Thread-safe."""

    _tasks: dict[Hashable, DirectTask | DirectCrew] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable, record: Callable[[], Recorded]) -> Recorded:
        task = self._tasks.get(key)
        if task is None:
            with self._lock:
                task = self._tasks.get(key)
                if task is None:
                    task = record()
                    self._tasks[key] = task
        return cast(Recorded, task)
