"""The support flow: classify, pick a route, run one specialist or the complex crew.

    classify ──route──> "billing" | "technical" | "escalation" | "general" ──> answer_single (one specialist)
                   └──> "complex" ──────────────────────────────────────────> answer_complex (the crew)

Both answer steps first prefetch the knowledge-base articles for the message in code and hand them to the
answer tasks (`crew.tools.prefetch_articles`): a hosted specialist answers from them in one call and uses
the search tool only when they do not cover the question.

A caller may force a route (the classification still runs and is recorded); `emergency=True` forces
escalation. A caller that already classified the message (the API's auto-emergency check) passes the
`classification` in: `classify` then takes it as is instead of running the classifier again (with a hosted
classifier that is one model call saved per request), and the route is still decided here.

Plain Python, not a CrewAI `Flow`: three steps in a fixed order need no event-driven scheduler, and a Flow
kickoff cost ~4 ms of CPU per request (an event loop per run, each step handed to a new thread pool, the
listener scan), a third of a hosted request's CPU once the tasks ran directly (docs/performance.md). The
agents, tasks and the complex crew are CrewAI's. One `SupportFlow` per request: it holds that run's state.
Import only after `crew.bootstrap.load_crewai(settings)`.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from crew.crews import SPECIALIST_ROUTES, CrewParts, run_classifier, run_complex, run_specialist
from crew.decision import decide
from crew.models import Classification, Route
from crew.tools import prefetch_articles


class SupportState(BaseModel):
    """Everything one request carries through the flow. Text fields are already fenced by the caller."""

    message: str = ""
    history: str = ""
    forced_route: Route = Route.AUTO
    emergency: bool = False
    classification: Classification | None = None
    route: Route | None = None
    complex_routes: list[Route] = Field(default_factory=list)
    # The knowledge-base articles prefetched for the answer task(s), in the tool's output format.
    articles: str = ""
    # What the knowledge-base tool returned when the specialist searched beyond the prefetched articles.
    tool_outputs: list[str] = Field(default_factory=list)
    reply: str = ""
    stage_seconds: dict[str, float] = Field(default_factory=dict)


def choose_route(classification: Classification, forced: Route, emergency: bool) -> Route:
    """The route a request takes, by the one rule of `crew.decision`."""
    return decide(classification, forced=forced, flagged=emergency).route


def complex_routes(classification: Classification) -> list[Route]:
    """The specialists a complex request needs: the main category plus the secondary ones, in fixed order."""
    wanted = {Route(classification.category.value), *(Route(c.value) for c in classification.secondary_categories)}
    return [route for route in SPECIALIST_ROUTES if route in wanted]


class SupportFlow:
    """One request's run: `kickoff(inputs)` fills `state` (classification, route, reply, stage timings)."""

    def __init__(self, parts: CrewParts) -> None:
        self._parts = parts
        self.state = SupportState()

    def kickoff(self, inputs: dict[str, Any]) -> str:
        """Run the request (`inputs`: the fields of `SupportState`); returns the reply."""
        self.state = SupportState.model_validate(inputs)
        classification = self.classify()
        route = choose_route(classification, self.state.forced_route, self.state.emergency)
        self.state.route = route
        return self.answer_complex() if route is Route.COMPLEX else self.answer_single()

    def _inputs(self) -> dict[str, str]:
        return {
            "message": self.state.message,
            "history": self.state.history,
            "emergency": "yes" if self.state.emergency else "no",
        }

    def _prefetch(self, routes: list[Route]) -> str:
        """The articles for this message, searched in code (~1 ms) so that the specialist can answer in one
        model call; a hosted model otherwise spends a whole round-trip on the search tool call."""
        started = time.perf_counter()
        self.state.articles = prefetch_articles(self._parts.kb_tool, self.state.message, routes)
        self.state.stage_seconds["retrieve"] = time.perf_counter() - started
        return self.state.articles

    def classify(self) -> Classification:
        if self.state.classification is not None:
            # Classified by the caller already: reuse it (recorded in the result like our own).
            self.state.stage_seconds["classify"] = 0.0
            return self.state.classification
        started = time.perf_counter()
        classification = run_classifier(self._parts, {"message": self.state.message})
        self.state.classification = classification
        self.state.stage_seconds["classify"] = time.perf_counter() - started
        return classification

    def answer_single(self) -> str:
        assert self.state.route is not None  # set by kickoff before answering
        started = time.perf_counter()
        articles = self._prefetch([self.state.route])
        inputs = {**self._inputs(), "route": self.state.route.value, "articles": articles}
        output = run_specialist(self._parts, self.state.route, inputs)
        self.state.reply = output.raw
        self.state.tool_outputs = list(output.tool_outputs)
        self.state.stage_seconds["answer"] = time.perf_counter() - started
        return self.state.reply

    def answer_complex(self) -> str:
        assert self.state.classification is not None
        started = time.perf_counter()
        routes = complex_routes(self.state.classification)
        self.state.complex_routes = routes
        # Each specialist sees the articles of every route: it answers its own issue from them.
        articles = self._prefetch(routes)
        specialists = ", ".join(route.value for route in routes)
        output = run_complex(self._parts, routes, {**self._inputs(), "specialists": specialists, "articles": articles})
        self.state.reply = output.raw
        self.state.tool_outputs = list(output.tool_outputs)
        self.state.stage_seconds["answer"] = time.perf_counter() - started
        return self.state.reply
