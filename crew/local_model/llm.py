"""`LocalLLM`: the deterministic, offline stand-in for a hosted model, driven through CrewAI like one.

CrewAI hands it the same messages a hosted model gets (system: "You are <role>. <backstory> Your personal
goal is: ..."; user: "Current Task: <description> ... expected criteria ..." and, for later tasks of a
sequential crew, "This is the context you're working with:\n<earlier outputs>"). It answers per task:

- `classify_request`: the `Classification` JSON from `LocalRouter` (one call).
- `answer_<route>`: first call returns a native tool call to the knowledge-base tool (CrewAI runs the
  tool and appends its output as a `tool` message, exactly as with an OpenAI model); second call composes
  the reply from that observation with `composer.compose_reply` (two calls, one real tool run). The
  articles the flow prefetched into the task (`<knowledge_base_articles>`) are deliberately not used:
  issue 2 wants the local model to go through the same tool call a hosted model may make, so the tool
  path stays exercised on every offline request, and a local call costs no money, only ~20 ms of CPU.
- `analyse_issues`: one `IssueAnalysis` JSON, one issue per listed specialist, from per-sentence routing.
- `write_final_reply`: `composer.compose_complex_reply` over the specialists' answers in the context.

Prompt injection: customer text is only ever read from between the `<customer_message>` markers (history
between `<history>`), and every instruction the model acts on (`Task:`, `Route:`, `Emergency:`,
`Specialists:`) is read from the prompt with those fenced regions (and the prefetched articles) cut out
first, and only before CrewAI's context header. `crew.crews.fence` guarantees customer text holds no
copy of the markers, so a message containing "Final Answer:", a JSON schema or "ignore previous
instructions" is just words to classify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crewai import BaseLLM
from crewai.events.types.llm_events import LLMCallType
from crewai.llms.base_llm import llm_call_context
from crewai.utilities.formatter import DIVIDERS
from pydantic import BaseModel, PrivateAttr

from crew.local_model.composer import compose_complex_reply, compose_follow_up, compose_reply, with_open_cases_note
from crew.local_model.router import LocalRouter
from crew.local_model.thread import read_thread
from crew.models import Category, Route
from crew.tools import parse_tool_hits

LOCAL_MODEL_NAME = "local/support-desk"
KB_TOOL_NAME = "search_knowledge_base"
CONTEXT_HEADER = "This is the context you're working with:"
_CUSTOMER = re.compile(r"<customer_message>(.*?)</customer_message>", flags=re.DOTALL)
_HISTORY = re.compile(r"<history>(.*?)</history>", flags=re.DOTALL)
_ARTICLES = re.compile(r"<knowledge_base_articles>(.*?)</knowledge_base_articles>", flags=re.DOTALL)
_TASK = re.compile(r"Current Task:\s*Task:\s*([a-z_]+)")
_ROUTE = re.compile(r"^\s*Route:\s*([a-z]+)\s*$", flags=re.MULTILINE)
_EMERGENCY = re.compile(r"^\s*Emergency:\s*(yes|no)\s*$", flags=re.MULTILINE)
_SPECIALISTS = re.compile(r"^\s*Specialists:\s*([a-z, ]+?)\s*$", flags=re.MULTILINE)
# Issues are split at sentence ends and at the joins customers use between two problems.
_CLAUSE_BREAK = re.compile(r"(?<=[.!?;])\s+|\n+|,?\s+(?:and also|and|but|also|plus|as well as)\s+", flags=re.IGNORECASE)
# CrewAI's own closing lines after the context (its `task_no_tools` / ReAct `task` prompt slices).
_CREWAI_TRAILER = re.compile(
    r"\s*(?:Provide your complete response:|Begin! This is VERY important.*?Thought:)\s*$", re.DOTALL
)
_CHARS_PER_TOKEN = 4
_QUERY_MAX_CHARS = 1000


class LocalModelError(RuntimeError):
    """The prompt is not one this model knows how to answer (a bug in the crew wiring, not user input)."""


@dataclass(frozen=True)
class ParsedPrompt:
    """A CrewAI prompt taken apart: our instructions, and the fenced data, never mixed."""

    task: str
    customer_message: str
    history: str
    route: Route | None
    emergency: bool
    specialists: tuple[Route, ...]
    context: str
    tool_outputs: tuple[str, ...]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: [{"type": "text", "text": ...}]
        return "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return "" if content is None else str(content)


def parse_prompt(messages: str | Sequence[Any]) -> ParsedPrompt:
    """Split CrewAI's messages into instructions and data (see the module docstring for the rules)."""
    items: list[dict[str, Any]] = (
        [{"role": "user", "content": messages}]
        if isinstance(messages, str)
        else [m for m in messages if isinstance(m, dict)]
    )
    user = next((_text(m.get("content")) for m in items if m.get("role") == "user"), "")
    tool_outputs = tuple(_text(m.get("content")) for m in items if m.get("role") == "tool")

    customer = _CUSTOMER.search(user)
    history = _HISTORY.search(user)
    articles = _ARTICLES.search(user)
    # Cut the fenced data out before reading any instruction, so data can never look like one.
    frame = user
    fenced = (m for m in (customer, history, articles) if m is not None)
    for match in sorted(fenced, key=lambda m: m.start(), reverse=True):
        frame = frame[: match.start()] + frame[match.end() :]
    head, _, context = frame.partition(CONTEXT_HEADER)

    task = _TASK.search(head)
    if task is None:
        raise LocalModelError("the prompt names no task this model knows")
    route = _ROUTE.search(head)
    emergency = _EMERGENCY.search(head)
    specialists = _SPECIALISTS.search(head)
    return ParsedPrompt(
        task=task.group(1),
        customer_message=customer.group(1).strip() if customer else "",
        history=history.group(1).strip() if history else "",
        route=_route_or_none(route.group(1)) if route else None,
        emergency=bool(emergency and emergency.group(1) == "yes"),
        specialists=tuple(r for r in (_route_or_none(name.strip()) for name in specialists.group(1).split(",")) if r)
        if specialists
        else (),
        context=_CREWAI_TRAILER.sub("", context).strip(),
        tool_outputs=tool_outputs,
    )


def _route_or_none(value: str) -> Route | None:
    try:
        return Route(value)
    except ValueError:
        return None


class LocalLLM(BaseLLM):
    """Deterministic, offline model. Thread-safe: `call` keeps no state between calls."""

    llm_type: str = "local"
    model: str = LOCAL_MODEL_NAME
    provider: str = "local"
    _router: LocalRouter = PrivateAttr()

    def __init__(self, *, router: LocalRouter, **data: Any) -> None:
        data.setdefault("model", LOCAL_MODEL_NAME)
        super().__init__(**data)
        self._router = router

    # --- capabilities CrewAI asks about ----------------------------------------------------------------
    def supports_function_calling(self) -> bool:
        # Native tool calls: the tool request is structured data, not "Action:" text CrewAI re-parses.
        return True

    def supports_stop_words(self) -> bool:
        return False

    def get_context_window_size(self) -> int:
        return 128_000

    def get_input_tokens_count(
        self,
        messages: str | list[Any],
        tools: list[dict[str, Any]] | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> int:
        # The base class logs a warning on every call before estimating; the estimate is all there is here.
        return _estimate_tokens(messages)

    # --- the model ---------------------------------------------------------------------------------------
    def call(
        self,
        messages: str | list[Any],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any | None = None,
        from_agent: Any | None = None,
        response_model: type[BaseModel] | None = None,
    ) -> str | list[dict[str, Any]]:
        with llm_call_context():
            self._emit_call_started_event(
                messages=messages, tools=tools, callbacks=callbacks, from_task=from_task, from_agent=from_agent
            )
            try:
                response = self.respond(messages, tools)
            except Exception as exc:
                self._emit_call_failed_event(error=str(exc), from_task=from_task, from_agent=from_agent)
                raise
            prompt_tokens = _estimate_tokens(messages)
            completion_tokens = _estimate_tokens(json.dumps(response) if isinstance(response, list) else response)
            self._emit_call_completed_event(
                response=response,
                call_type=LLMCallType.TOOL_CALL if isinstance(response, list) else LLMCallType.LLM_CALL,
                from_task=from_task,
                from_agent=from_agent,
                messages=messages,
                usage={
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            )
            return response

    def respond(self, messages: str | Sequence[Any], tools: Sequence[dict[str, Any]] | None = None) -> Any:
        """The answer to one prompt, without CrewAI's event plumbing (used by `call` and by tests)."""
        prompt = parse_prompt(messages)
        if prompt.task == "classify_request":
            return self._router.classify(prompt.customer_message).model_dump_json()
        if prompt.task == "analyse_issues":
            return self._analyse(prompt)
        if prompt.task.startswith("answer_"):
            return self._answer(prompt, tools)
        if prompt.task == "write_final_reply":
            return self._review(prompt)
        raise LocalModelError(f"no behaviour for task {prompt.task!r}")

    # --- tasks -------------------------------------------------------------------------------------------
    def _answer(self, prompt: ParsedPrompt, tools: Sequence[dict[str, Any]] | None) -> Any:
        route = prompt.route or Route.GENERAL
        tool_name = _kb_tool_name(tools)
        if not prompt.tool_outputs and tool_name is not None:
            arguments = {"query": self._query_for(prompt, route)[:_QUERY_MAX_CHARS]}
            if route in (Route.BILLING, Route.TECHNICAL, Route.ESCALATION, Route.GENERAL):
                arguments["category"] = route.value
            return [
                {
                    "id": "call_kb_1",
                    "type": "function",
                    "function": {"name": tool_name, "arguments": json.dumps(arguments)},
                }
            ]
        hits = [hit for output in prompt.tool_outputs for hit in parse_tool_hits(output)]
        thread = read_thread(prompt.history)
        if thread.is_follow_up:
            return compose_follow_up(prompt.customer_message, route, hits, thread, emergency=prompt.emergency)
        reply = compose_reply(prompt.customer_message, route, hits, emergency=prompt.emergency)
        return with_open_cases_note(reply, thread.other_open_cases)

    def _query_for(self, prompt: ParsedPrompt, route: Route) -> str:
        """The search query: this route's issue from the analyst's JSON if there is one, else the message."""
        for issue in _issues_from_context(prompt.context):
            if issue.get("category") == route.value and str(issue.get("query", "")).strip():
                return str(issue["query"])
        # A follow-up keeps the case's topic: "what now?" alone would find nothing.
        return read_thread(prompt.history).search_query(prompt.customer_message)

    def _analyse(self, prompt: ParsedPrompt) -> str:
        wanted = [r for r in prompt.specialists if r is not Route.COMPLEX] or [Route.GENERAL]
        sentences = [s.strip() for s in _CLAUSE_BREAK.split(prompt.customer_message) if s.strip()]
        by_route: dict[Route, list[str]] = {route: [] for route in wanted}
        for sentence in sentences:
            label = self._router.classify(sentence)
            candidates = [Route(label.category.value), *(Route(c.value) for c in label.secondary_categories)]
            target = next((route for route in candidates if route in by_route), None)
            if target is not None:
                by_route[target].append(sentence)
        issues = []
        for route in wanted:
            own = " ".join(by_route[route]) or prompt.customer_message
            issues.append(
                {
                    "category": Category(route.value).value,
                    "summary": _first_words(own, 24),
                    "query": _first_words(own, 60),
                }
            )
        return json.dumps({"issues": issues})

    def _review(self, prompt: ParsedPrompt) -> str:
        chunks = [chunk.strip() for chunk in prompt.context.split(DIVIDERS.strip()) if chunk.strip()]
        answers = chunks[1:] if chunks and _issues_from_context(chunks[0]) else chunks
        routes = list(prompt.specialists)
        if len(routes) != len(answers):
            # The context does not line up with the specialists (a hosted model's odd output): keep every
            # answer, label them generically rather than guessing which is which.
            routes = [Route.GENERAL] * len(answers)
        parts = list(zip(routes, answers, strict=True))
        return compose_complex_reply(prompt.customer_message, parts)


def _kb_tool_name(tools: Sequence[dict[str, Any]] | None) -> str | None:
    for tool in tools or ():
        name = str(tool.get("function", {}).get("name", "")) if isinstance(tool, dict) else ""
        if name == KB_TOOL_NAME:
            return name
    return None


def _issues_from_context(context: str) -> list[dict[str, Any]]:
    """The analyst's issues if the context (or its first part) is its JSON; empty otherwise."""
    first = context.split(DIVIDERS.strip(), 1)[0].strip()
    if not first.startswith("{"):
        return []
    try:
        data = json.loads(first)
    except json.JSONDecodeError:
        return []
    issues = data.get("issues") if isinstance(data, dict) else None
    return [item for item in issues if isinstance(item, dict)] if isinstance(issues, list) else []


def _first_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" ..." if len(words) > count else "")


def _estimate_tokens(messages: Any) -> int:
    if isinstance(messages, str):
        chars = len(messages)
    elif isinstance(messages, list):
        chars = sum(len(_text(m.get("content"))) if isinstance(m, dict) else len(str(m)) for m in messages)
    else:
        chars = len(str(messages))
    return (chars + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN
