"""A fake crew for on-call tests: a configurable classification, and a record of every history it got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crew.models import Category, Citation, Classification, Priority, Route, SupportResult, ThreadMessage

EMERGENCY_REPLY = "A person on call has been alerted now and will contact you directly. What happens next: ..."


@dataclass
class RecordingCrew:
    category: Category = Category.BILLING
    priority: Priority = Priority.MEDIUM
    calls: list[dict[str, Any]] = field(default_factory=list)

    def classify(self, message: str) -> Classification:
        urgent = "hacked" in message
        return Classification(
            category=Category.ESCALATION if urgent else self.category,
            priority=Priority.URGENT if urgent else self.priority,
            confidence=0.9,
            is_complex=False,
            signals=["fake"],
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
                "history": list(history),
                "classification": classification,
            }
        )
        classification = classification or self.classify(message)
        taken = Route.ESCALATION if emergency else (classification.route() if route is Route.AUTO else route)
        reply = EMERGENCY_REPLY if emergency else f"Answer to: {message} (seen {len(history)} earlier messages)"
        return SupportResult(
            reply=reply,
            agent_type=taken,
            classification=classification,
            citations=[Citation(article_id="KB-031", title="Escalation policy")],
            model_calls=1,
        )
