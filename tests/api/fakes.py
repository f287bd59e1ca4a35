"""Fake crews for API tests: real `SupportResult`s, no crewai, no model."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crew.models import Category, Citation, Classification, Priority, Route, SupportResult, ThreadMessage


@dataclass
class FakeCrew:
    """Answers every message; records what it was handed. `reply` may be overridden per test."""

    reply: str = "Thanks, we refunded the duplicate charge."
    category: Category = Category.BILLING
    block_on: str | None = None  # a message containing this waits for `release`
    release: threading.Event = field(default_factory=threading.Event)
    calls: list[dict[str, Any]] = field(default_factory=list)
    classify_calls: int = 0

    def classify(self, message: str) -> Classification:
        self.classify_calls += 1
        return Classification(
            category=self.category, priority=Priority.MEDIUM, confidence=0.8, is_complex=False, signals=["fake"]
        )

    def handle(
        self,
        message: str,
        *,
        route: Route = Route.AUTO,
        emergency: bool = False,
        history: Sequence[ThreadMessage] = (),
        context: Mapping[str, Any] | None = None,
        classification: Classification | None = None,
    ) -> SupportResult:
        self.calls.append(
            {
                "message": message,
                "route": route,
                "emergency": emergency,
                "context": context,
                "classification": classification,
            }
        )
        if self.block_on and self.block_on in message:
            self.release.wait(30)
        # Like the real desk: a classification handed in is used, not made again.
        classification = classification or self.classify(message)
        taken = classification.route() if route is Route.AUTO else route
        return SupportResult(
            reply=self.reply,
            agent_type=taken,
            classification=classification,
            citations=[Citation(article_id="KB-1", title="Refunds")],
            model_calls=1,
        )


class FailingCrew(FakeCrew):
    def handle(self, message: str, **kwargs: Any) -> SupportResult:
        self.calls.append({"message": message, **kwargs})
        raise RuntimeError("model backend exploded: secret internal detail /srv/app.py line 42")
