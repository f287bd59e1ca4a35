"""The desk's answer to a message outside its scope (trivia, maths, weather, smart-home commands): a short,
honest reply saying what it can help with. It is not escalated, never pages, and costs no model call when
the classification made before the crew already says so."""

from __future__ import annotations

from crew.models import Classification, Route, SupportResult

OUT_OF_SCOPE_REPLY = (
    "That's outside what this support desk can help with, so I won't guess. I can help with billing and "
    "payments, your account and signing in, technical problems with our apps and services, orders, "
    "deliveries and returns, and urgent matters such as fraud or a hacked account. If your question is about "
    "one of these, tell me a little more."
)


def is_out_of_scope(classification: Classification | None, *, emergency: bool, route: Route) -> bool:
    """Out of scope as the desk acts on it: never for an emergency or a route the caller chose."""
    return classification is not None and classification.out_of_scope and not emergency and route is Route.AUTO


def out_of_scope_result(classification: Classification) -> SupportResult:
    return SupportResult(reply=OUT_OF_SCOPE_REPLY, agent_type=Route.GENERAL, classification=classification)
