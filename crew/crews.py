"""The crews of the support desk, as small `@CrewBase` classes over `config/agents.yaml` and `tasks.yaml`.

- `ClassifierCrew`: one agent, one task (`classify_request`, `output_pydantic=Classification`).
- `SpecialistCrew`: the one specialist of a route, one task (with the prefetched articles), with the
  knowledge-base tool for what they do not cover.
- `ComplexCrew`: sequential issue analyst -> the specialists needed -> reviewer.

The classifier and the single specialists run as direct tasks (`crew/direct.py`): CrewAI renders each one's
prompt once, with the crews below, and a request then calls the agent's model with it directly, without a
kickoff's machinery around the call. A model without native tool calls keeps full kickoffs (CrewAI's text
protocol parses the answers), and so does the complex crew.

Import this module only after `crew.bootstrap.load_crewai(config)` (CrewAI reads its switches at import).

A CrewAI `Crew`, its `Agent`s and `Task`s hold per-kickoff state (interpolated descriptions, task outputs,
the agent's executor), so one instance must never run two kickoffs at once. The expensive parts (YAML,
models, tool, knowledge base) are loaded once in `CrewParts` and shared. Built crews are pooled there too
(`CrewPool`, used through `run_crew`): a request checks a crew out, runs one kickoff and gives it back, so
no two requests ever hold the same crew. CrewAI supports kickoffs one after another on one crew (each one
re-interpolates the tasks from their originals, resets the flow state and updates the agent's existing
executor instead of building one): with a hosted model that saves ~1.2-1.5 ms of CPU per kickoff (pydantic
construction of crew, agents, tasks and executor), ~2.7 ms per request.

Prompt conventions shared with `crew.local_model.llm` (the local model parses them):
- customer text stands between `<customer_message>` and `</customer_message>`; earlier messages of the
  case between `<history>` and `</history>`; the knowledge-base articles prefetched for an answer task
  between `<knowledge_base_articles>` and `</knowledge_base_articles>`; `fence()` removes any copy of
  these markers from the text first, so customer text can never close its fence early or pose as an
  article;
- each task description begins with `Task: <name>`, answer tasks also carry `Route:` and `Emergency:`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from crewai import Agent, BaseLLM, Crew, CrewOutput, Process, Task
from crewai.project import CrewBase, agent, crew, task
from crewai.tools import BaseTool
from pydantic import Field

from crew.compat.crewai_internals import PrivateCrew, SupportAgentExecutor
from crew.compat.openai_parsed_classes import ParsedResponseClasses
from crew.direct import DirectCrew, DirectOutput, DirectTask, DirectTasks, NotRecordable, calls_tools_natively
from crew.models import Category, Classification, FixedSchemaModel, Priority, Route
from crew.tools import KnowledgeBaseSearchTool

CONFIG_DIR = Path(__file__).resolve().parent / "config"
CUSTOMER_TAG = "customer_message"
HISTORY_TAG = "history"
ARTICLES_TAG = "knowledge_base_articles"
SPECIALIST_ROUTES: tuple[Route, ...] = (Route.BILLING, Route.TECHNICAL, Route.ESCALATION, Route.GENERAL)
# Any opening or closing form of our fences, including spaced or attribute-carrying variants.
# The articles fence too: customer text must not pass itself off as a prefetched article.
_FENCE_MARKER = re.compile(rf"<\s*/?\s*(?:{CUSTOMER_TAG}|{HISTORY_TAG}|{ARTICLES_TAG})\b[^>]*>", flags=re.IGNORECASE)
# CrewAI fills placeholders with sequential str.replace, so a `{message}` inside one input would be
# expanded by the next; customer text keeps its braces but never one of our placeholder names.
_PLACEHOLDER = re.compile(r"\{(message|history|route|emergency|specialists|articles)\}")
_AGENT_OPTIONS: dict[str, Any] = {
    "verbose": False,
    "allow_delegation": False,
    # CrewAI's tool cache lives on the agent and grows with every distinct query; the search is cheap.
    "cache": False,
    # A specialist needs one search and one answer; a stuck model must not loop on a paid API.
    "max_iter": 4,
    # CrewAI re-runs a failed task twice by default, on top of the SDK's retries (SUPPORT_LLM_MAX_RETRIES)
    # and its own 429 back-off: a rate-limited hosted model cost 9 requests and ~12 s before the local
    # fallback. SUPPORT_LLM_MAX_RETRIES is the one retry knob.
    "max_retry_limit": 0,
    # Off: with it on, CrewAI counts the input tokens before *every* model call, which on OpenAI itself is
    # an extra HTTP request to the token-count endpoint per call (and on other servers an estimate plus a
    # logged warning per call, ~4 ms of CPU per request). Our prompts are bounded by construction (message
    # <= MAX_MESSAGE_LENGTH, the last 10 history messages, <= 3 articles per search, max_iter 4), and a
    # provider's context-length error still ends in the local fallback, never a crash.
    "respect_context_window": False,
    # CrewAI's executor hands every step of every run to a fresh thread pool; this one runs them in place
    # (crew/compat/crewai_internals.py).
    "executor_class": SupportAgentExecutor,
}

logger = logging.getLogger(__name__)


def fence(text: str) -> str:
    """Customer text made safe to stand between our markers: marker look-alikes are defused."""
    defused = _FENCE_MARKER.sub(lambda match: match.group(0).replace("<", "(").replace(">", ")"), text)
    return _PLACEHOLDER.sub(r"(\1)", defused)


def kickoff(crew_: Crew, inputs: dict[str, Any]) -> CrewOutput:
    """`crew.kickoff` narrowed to the non-streaming result our crews produce."""
    output = crew_.kickoff(inputs=inputs)
    if not isinstance(output, CrewOutput):
        raise TypeError("a support crew must not stream")
    return output


class CrewPool:
    """Idle built crews by key (crew class and route), each lent to one kickoff at a time. Thread-safe.

    A crew goes back only after a kickoff that succeeded: one that raised may hold a half-run state (a task
    output of this request, an executor mid-way), so it is dropped and the next request builds a fresh one.
    Idle crews keep the last request's interpolated prompts and outputs in memory (never on disk) until
    their next kickoff overwrites them.
    """

    # Crews kept idle per key: the peak number of concurrent requests on one route, bounded so that a burst
    # does not keep hundreds of crews alive afterwards (~0.1 MB each). Beyond it a request simply builds one.
    MAX_IDLE_PER_KEY = 64

    def __init__(self) -> None:
        self._idle: dict[Hashable, list[Crew]] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, build: Callable[[], Crew], inputs: dict[str, Any]) -> CrewOutput:
        with self._lock:
            idle = self._idle.get(key)
            borrowed = idle.pop() if idle else None
        crew_ = borrowed if borrowed is not None else build()
        output = kickoff(crew_, inputs)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.MAX_IDLE_PER_KEY:
                idle.append(crew_)
        return output

    def idle_count(self, key: Hashable) -> int:
        with self._lock:
            return len(self._idle.get(key, ()))


class IssueItem(FixedSchemaModel):
    category: Category
    summary: str = Field(description="One line: what the customer needs for this issue")
    query: str = Field(description="A short knowledge base search query for this issue")


class IssueAnalysis(FixedSchemaModel):
    """What the issue analyst returns (its `output_pydantic`): one item per specialist needed."""

    issues: list[IssueItem] = Field(min_length=1)


@dataclass(frozen=True)
class CrewParts:
    """What every crew build shares: prompt configs, models and the knowledge-base tool. Built once."""

    agents_config: dict[str, Any]
    tasks_config: dict[str, Any]
    classifier_llm: BaseLLM
    specialist_llm: BaseLLM
    kb_tool: KnowledgeBaseSearchTool
    # Crews built over these parts, reused one kickoff at a time (see CrewPool).
    pool: CrewPool = field(default_factory=CrewPool, compare=False, repr=False)
    # The classifier and the single specialists as direct tasks (crew/direct.py), recorded on first use.
    direct: DirectTasks = field(default_factory=DirectTasks, compare=False, repr=False)
    # Built once, activated before every structured-output kickoff (crew/compat/openai_parsed_classes.py).
    parsed_classes: ParsedResponseClasses = field(
        default_factory=ParsedResponseClasses.build, compare=False, repr=False
    )

    @classmethod
    def load(cls, *, classifier_llm: BaseLLM, specialist_llm: BaseLLM, kb_tool: KnowledgeBaseSearchTool) -> CrewParts:
        return cls(
            agents_config=_read_yaml(CONFIG_DIR / "agents.yaml"),
            tasks_config=_read_yaml(CONFIG_DIR / "tasks.yaml"),
            classifier_llm=classifier_llm,
            specialist_llm=specialist_llm,
            kb_tool=kb_tool,
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"{path} must hold a mapping")
    return content


class _PartsCrewBase:
    """Shared plumbing: configs come from `CrewParts` (parsed once), not from YAML on every build."""

    # The agents and tasks (keys of agents.yaml / tasks.yaml) this crew class uses.
    agent_names: tuple[str, ...] = ()
    task_names: tuple[str, ...] = ()
    agents_config: Any
    tasks_config: Any
    agents: list[Any]
    tasks: list[Any]

    def __init__(self, parts: CrewParts) -> None:
        self.parts = parts
        # CrewBase injects its own `load_configurations` into the class (re-reading both YAML files on every
        # build, ~ms) and then resolves *every* task's `agent:` against this class's @agent methods. An
        # instance attribute wins over the injected method: use the YAML parsed once, only our entries.
        setattr(self, "load_configurations", self._load_shared_configurations)  # noqa: B010

    def _load_shared_configurations(self) -> None:
        # CrewBase then replaces agent names in the task configs by agent objects *in place*, so every
        # instance gets its own shallow copies of the shared entries.
        self.agents_config = {name: dict(self.parts.agents_config[name]) for name in self.agent_names}
        self.tasks_config = {name: dict(self.parts.tasks_config[name]) for name in self.task_names}

    def _agent(self, name: str, llm: BaseLLM, tools: Sequence[BaseTool] = ()) -> Agent:
        return Agent(config=self.agents_config[name], llm=llm, tools=list(tools), **_AGENT_OPTIONS)

    def _task(self, name: str, **options: Any) -> Task:
        return Task(config=self.tasks_config[name], name=name, **options)

    def _private_crew(self, tasks: Sequence[Task]) -> Crew:
        agents = list({id(item.agent): item.agent for item in tasks if item.agent is not None}.values())
        return PrivateCrew(
            agents=agents,
            tasks=list(tasks),
            process=Process.sequential,
            verbose=False,
            memory=False,
            cache=False,
            planning=False,
        )


class _Specialists(_PartsCrewBase):
    """The four specialist agents; each gets the knowledge-base tool and the specialist model."""

    @agent
    def billing_specialist(self) -> Agent:
        return self._agent("billing_specialist", self.parts.specialist_llm, [self.parts.kb_tool])

    @agent
    def technical_specialist(self) -> Agent:
        return self._agent("technical_specialist", self.parts.specialist_llm, [self.parts.kb_tool])

    @agent
    def escalation_specialist(self) -> Agent:
        return self._agent("escalation_specialist", self.parts.specialist_llm, [self.parts.kb_tool])

    @agent
    def general_support(self) -> Agent:
        return self._agent("general_support", self.parts.specialist_llm, [self.parts.kb_tool])

    def answer_task(self, route: Route, **options: Any) -> Task:
        return self._task(f"answer_{route.value}", **options)


_SPECIALIST_AGENTS = ("billing_specialist", "technical_specialist", "escalation_specialist", "general_support")
_ANSWER_TASKS = tuple(f"answer_{route.value}" for route in SPECIALIST_ROUTES)


@CrewBase
class ClassifierCrew(_PartsCrewBase):
    """Classifies one message: category, priority, confidence, complexity."""

    agent_names = ("classifier",)
    task_names = ("classify_request",)

    @agent
    def classifier(self) -> Agent:
        return self._agent("classifier", self.parts.classifier_llm)

    @task
    def classify_request(self) -> Task:
        return self._task("classify_request", output_pydantic=Classification)

    @crew
    def crew(self) -> Crew:
        return self._private_crew(self.tasks)


@CrewBase
class SpecialistCrew(_Specialists):
    """The specialist of one route answers from the knowledge base (one task, one search, one answer)."""

    agent_names = _SPECIALIST_AGENTS
    task_names = _ANSWER_TASKS

    def __init__(self, parts: CrewParts, route: Route) -> None:
        if route not in SPECIALIST_ROUTES:
            raise ValueError(f"no specialist for route {route}")
        # Not super(): @CrewBase rebuilds the class, so the zero-argument form points at a stale class.
        _PartsCrewBase.__init__(self, parts)
        self.route = route

    @task
    def answer(self) -> Task:
        return self.answer_task(self.route)

    @crew
    def crew(self) -> Crew:
        return self._private_crew(self.tasks)


@CrewBase
class ComplexCrew(_Specialists):
    """Several issues: the analyst splits them, each needed specialist answers its part, a reviewer merges."""

    agent_names = ("issue_analyst", "reviewer", *_SPECIALIST_AGENTS)
    task_names = ("analyse_issues", "write_final_reply", *_ANSWER_TASKS)

    def __init__(self, parts: CrewParts, routes: Sequence[Route]) -> None:
        _PartsCrewBase.__init__(self, parts)  # not super(): see SpecialistCrew
        self.routes = [route for route in SPECIALIST_ROUTES if route in routes] or [Route.GENERAL]

    @agent
    def issue_analyst(self) -> Agent:
        return self._agent("issue_analyst", self.parts.specialist_llm)

    @agent
    def reviewer(self) -> Agent:
        return self._agent("reviewer", self.parts.specialist_llm)

    @task
    def analyse_issues(self) -> Task:
        return self._task("analyse_issues", output_pydantic=IssueAnalysis)

    @task
    def write_final_reply(self) -> Task:
        return self._task("write_final_reply")

    @crew
    def crew(self) -> Crew:
        analysis, final = self.tasks  # the @task methods above, in definition order
        answers = [self.answer_task(route, context=[analysis]) for route in self.routes]
        # The reviewer sees the analysis first, then each specialist's answer, in route order.
        final.context = [analysis, *answers]
        return self._private_crew([analysis, *answers, final])


# What a direct task's inputs are called in tasks.yaml (the placeholders CrewAI fills in).
CLASSIFIER_INPUTS = ("message",)
SPECIALIST_INPUTS = ("message", "history", "emergency", "route", "articles")
COMPLEX_INPUTS = ("message", "history", "emergency", "specialists", "articles")


def _with_model(parts: CrewParts, llm: BaseLLM) -> CrewParts:
    """The same parts with every agent on `llm` (the recorder that captures a direct task's prompt)."""
    return dataclasses.replace(parts, classifier_llm=llm, specialist_llm=llm)


def _sample_reply(response_model: type[Any] | None) -> Any:
    """What the recorder answers so that the recording kickoff finishes normally; never shown to anyone."""
    if response_model is Classification:
        return Classification(category=Category.GENERAL, priority=Priority.LOW, confidence=0.5, is_complex=False)
    return "recorded"


def classifier_task(parts: CrewParts) -> DirectTask:
    """The classifier crew's one task as a direct task, recorded once per parts."""

    def record() -> DirectTask:
        build = lambda llm: ClassifierCrew(_with_model(parts, llm)).crew()  # noqa: E731
        return DirectTask.record(build, parts.classifier_llm, CLASSIFIER_INPUTS, _sample_reply)

    return parts.direct.get(("classifier",), record)


def specialist_task(parts: CrewParts, route: Route) -> DirectTask:
    """The route's specialist crew's one task as a direct task, recorded once per parts and route."""

    def record() -> DirectTask:
        build = lambda llm: SpecialistCrew(_with_model(parts, llm), route).crew()  # noqa: E731
        return DirectTask.record(build, parts.specialist_llm, SPECIALIST_INPUTS, _sample_reply)

    return parts.direct.get(("specialist", route), record)


def run_classifier(parts: CrewParts, inputs: dict[str, Any]) -> Classification:
    """The classifier task: run directly with the prompt CrewAI renders for it (crew/direct.py) when the model
    calls tools natively, else as a pooled crew kickoff (CrewAI's text protocol has its own parsing)."""
    parts.parsed_classes.activate()
    if calls_tools_natively(parts.classifier_llm):
        classification = classifier_task(parts).run(inputs).pydantic
    else:
        classification = parts.pool.run(("classifier",), lambda: ClassifierCrew(parts).crew(), inputs).pydantic
    if not isinstance(classification, Classification):
        raise ValueError("the classifier returned no Classification")
    return classification


def run_specialist(parts: CrewParts, route: Route, inputs: dict[str, Any]) -> DirectOutput:
    """The route's specialist task, run directly or as a pooled crew kickoff (see `run_classifier`)."""
    if calls_tools_natively(parts.specialist_llm):
        return specialist_task(parts, route).run(inputs)
    output = parts.pool.run(("specialist", route), lambda: SpecialistCrew(parts, route).crew(), inputs)
    return DirectOutput(raw=output.raw, pydantic=None)


def _sample_output(response_model: type[Any] | None, marker: str) -> Any:
    """A recording answer that occurs nowhere else (the complex crew's outputs become its later tasks' context)."""
    if response_model is IssueAnalysis:
        return IssueAnalysis(issues=[IssueItem(category=Category.GENERAL, summary=marker, query=marker)])
    return marker


def complex_tasks(parts: CrewParts, routes: Sequence[Route]) -> DirectCrew:
    """The complex crew for these specialists as direct tasks in order, recorded once per parts and routes; a
    crew CrewAI runs in a shape the direct crew does not repeat is kept as an empty one (kickoffs instead)."""

    def record() -> DirectCrew:
        build = lambda llm: ComplexCrew(_with_model(parts, llm), routes).crew()  # noqa: E731
        try:
            return DirectCrew.record(build, parts.specialist_llm, COMPLEX_INPUTS, _sample_output)
        except NotRecordable:
            logger.warning("the complex crew cannot run as direct tasks here; it keeps full kickoffs", exc_info=True)
            return DirectCrew(tasks=())

    return parts.direct.get(("complex", tuple(routes)), record)


def run_complex(parts: CrewParts, routes: Sequence[Route], inputs: dict[str, Any]) -> DirectOutput:
    """The complex crew for these specialists: its tasks run directly in CrewAI's order with the context CrewAI
    passes (crew/direct.py) when the model calls tools natively, else one pooled kickoff per set of routes."""
    parts.parsed_classes.activate()  # its issue analyst answers with structured output
    direct = complex_tasks(parts, routes) if calls_tools_natively(parts.specialist_llm) else None
    if direct is not None and direct.tasks:
        return direct.run(inputs)
    output = parts.pool.run(("complex", tuple(routes)), lambda: ComplexCrew(parts, routes).crew(), inputs)
    return DirectOutput(raw=output.raw, pydantic=None)
