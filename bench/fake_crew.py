"""The one stand-in for the crew (the `SupportCrew` Protocol of crew/models.py) that benchmarks and tests use.

    FakeCrew()                                    answers at once, records every call
    FakeCrew(delay=1.0)                           each `handle` takes a second, like a hosted model call
    FakeCrew(fail_with=RuntimeError("..."))       each `handle` raises (after recording the call)
    FakeCrew(block_on="slow")                     a message containing "slow" waits for `crew.release.set()`
    FakeCrew(urgent_markers=("hacked",))          such messages classify as an urgent escalation
    FakeCrew(human_markers=("a person",))         such messages carry the "asks for a person" signal
    FakeCrew(out_of_scope_markers=("weather",))   such messages classify as out of scope

It returns real `Classification`s and `SupportResult`s and never imports crewai, so an app built on it
does the same work around the crew as with the real one, minus the crew. `create_instant_app` is the
uvicorn factory the benchmarks serve when they measure everything but the crew.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from crew.models import (
    Category,
    Citation,
    Classification,
    HandleOptions,
    Handling,
    Priority,
    Route,
    SupportResult,
    ThreadMessage,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_REPLY = "Thanks, we refunded the duplicate charge."
DEFAULT_CITATIONS = (Citation(article_id="KB-1", title="Refunds"),)
# A reply may depend on the message and the case's earlier messages (follow-up tests check what it saw).
ReplyFor = Callable[[str, Sequence[ThreadMessage]], str]


class HandleCall(TypedDict):
    """One `handle` call as the crew was handed it."""

    message: str
    route: Route
    emergency: bool
    history: list[ThreadMessage]
    context: Mapping[str, Any] | None
    classification: Classification | None


@dataclass
class FakeCrew:
    """A configurable instant crew. `calls` holds every `handle` call in order; `classify_calls` counts
    `classify` calls, including the ones `handle` makes when it is not handed a classification."""

    reply: str | ReplyFor = DEFAULT_REPLY
    emergency_reply: str | None = None  # the reply to emergencies, when it differs
    category: Category = Category.BILLING
    priority: Priority = Priority.MEDIUM
    confidence: float = 0.9
    urgent_markers: tuple[str, ...] = ()
    # Messages containing one of these carry the router's "asks for a person" signal, as the real one does.
    human_markers: tuple[str, ...] = ()
    # Messages containing one of these classify as out of scope (general, low), as trivia does.
    out_of_scope_markers: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = DEFAULT_CITATIONS
    model_calls: int = 1
    delay: float = 0.0  # seconds each `handle` sleeps before answering
    fail_with: Exception | None = None
    block_on: str | None = None
    release: threading.Event = field(default_factory=threading.Event)
    block_timeout: float = 30.0  # a test that forgets `release` fails instead of hanging
    calls: list[HandleCall] = field(default_factory=list)
    classify_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def classify(self, message: str) -> Classification:
        with self._lock:  # the app calls its crew from several worker threads at once
            self.classify_calls += 1
        urgent = any(marker in message for marker in self.urgent_markers)
        if any(marker in message for marker in self.out_of_scope_markers):
            return Classification(
                category=Category.GENERAL, priority=Priority.LOW, confidence=0.9, is_complex=False, out_of_scope=True
            )
        return Classification(
            category=Category.ESCALATION if urgent else self.category,
            priority=Priority.URGENT if urgent else self.priority,
            confidence=self.confidence,
            is_complex=False,
            signals=["fake", *(["rule:asks_for_human"] if any(m in message for m in self.human_markers) else [])],
        )

    def handle(self, message: str, **options: Unpack[HandleOptions]) -> SupportResult:
        asked = Handling.of(options)
        call = HandleCall(
            message=message,
            route=asked.route,
            emergency=asked.emergency,
            history=list(asked.history),
            context=asked.context,
            classification=asked.classification,
        )
        self.calls.append(call)
        if self.block_on and self.block_on in message:
            self.release.wait(self.block_timeout)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            # A fresh traceback each time: re-raising one instance would chain every earlier raise onto it.
            raise self.fail_with.with_traceback(None)
        return self.answer(call)

    def answer(self, call: HandleCall) -> SupportResult:
        """What `handle` returns once the call is recorded (a subclass may answer otherwise)."""
        message, route, emergency = call["message"], call["route"], call["emergency"]
        # Like the real desk: a classification handed in is used, not made again.
        classification = call["classification"] or self.classify(message)
        return SupportResult(
            reply=self.reply_to(message, call["history"], emergency),
            agent_type=self.route_for(classification, route, emergency),
            classification=classification,
            citations=list(self.citations),
            model_calls=self.model_calls,
        )

    def reply_to(self, message: str, history: Sequence[ThreadMessage], emergency: bool) -> str:
        if emergency and self.emergency_reply is not None:
            return self.emergency_reply
        return self.reply if isinstance(self.reply, str) else self.reply(message, history)

    @staticmethod
    def route_for(classification: Classification, route: Route, emergency: bool) -> Route:
        if emergency:
            return Route.ESCALATION
        return classification.route() if route is Route.AUTO else route


def instant_crew() -> FakeCrew:
    """What `--fake` benchmarks serve: instant answers, and the paging benchmark's unflagged emergency
    ("hacked") rated an urgent escalation as the real classifier rates it, so it pages."""
    return FakeCrew(reply="Done.", urgent_markers=("hacked",), citations=(), model_calls=0)


def create_instant_app() -> FastAPI:
    """uvicorn factory (`bench.fake_crew:create_instant_app`): the real app, settings from the environment
    the benchmark sets, the instant crew."""
    from api.app import create_app
    from desk.settings import Settings

    return create_app(Settings(), instant_crew())
