"""The one rule for where a message goes and whether it is an emergency.

    flagged emergency ─────────────────────────────> escalation, emergency
    classified an urgent escalation (the rule) ────> escalation, emergency (auto)
    a route forced by the caller ──────────────────> that route
    classified out of scope ───────────────────────> general (never an automatic emergency)
    otherwise ─────────────────────────────────────> the classifier's route

An out-of-scope message (trivia, maths, weather, ...) is answered honestly by the general desk: the
automatic rule never fires on it, whatever category or priority a hosted classifier gave it. A customer's
own emergency flag and a route forced by staff are explicit human choices and still win: a classifier that
wrongly calls a real emergency out of scope must not be able to silence it.

The desk's intake decides with it before the crew runs (to page at once), the support flow decides with it
inside the crew, and the case writes use it to record the route, priority and status of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from crew.models import Category, Classification, Priority, Route

DEFAULT_CATEGORIES = frozenset({Category.ESCALATION, Category.TECHNICAL})
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


@dataclass(frozen=True)
class AutoEmergencyRule:
    """An unflagged message is an emergency when its category is listed and its priority is at least the
    minimum. The local classifier gives `urgent` to fraud, a hacked account, a lost card, safety risks and
    legal deadlines (escalation) and to outages that affect many users (technical); an ordinary "urgent, my
    app crashes" is only `high`."""

    enabled: bool = True
    categories: frozenset[Category] = DEFAULT_CATEGORIES
    min_priority: Priority = Priority.URGENT

    def matches(self, classification: Classification) -> bool:
        return (
            self.enabled
            and classification.category in self.categories
            and PRIORITY_RANK[classification.priority] <= PRIORITY_RANK[self.min_priority]
        )


NO_AUTO_EMERGENCY = AutoEmergencyRule(enabled=False)


@dataclass(frozen=True)
class Decision:
    route: Route
    emergency: bool
    # True when the rule (not the caller's flag) made it an emergency: staff are told it was detected.
    auto: bool = False


def decide(
    classification: Classification | None,
    *,
    forced: Route = Route.AUTO,
    flagged: bool = False,
    rule: AutoEmergencyRule = NO_AUTO_EMERGENCY,
) -> Decision:
    """The route and emergency of one message. Without a classification the route stays `auto` (the crew
    classifies) unless the flag or a forced route settles it."""
    auto = (
        not flagged and classification is not None and not classification.out_of_scope and rule.matches(classification)
    )
    if flagged or auto:
        return Decision(Route.ESCALATION, emergency=True, auto=auto)
    if forced is not Route.AUTO or classification is None:
        return Decision(forced, emergency=False)
    return Decision(classification.route(), emergency=False)
