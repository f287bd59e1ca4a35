"""The rules of on-call paging, as pure functions: retry backoff, first-response times, auto-emergency."""

from __future__ import annotations

import random
from datetime import timedelta

from crew.models import Category, Classification, Priority
from desk.settings import Settings

PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}

# First-response times by priority, from KB-031 (crew/knowledge/kb-031-...). "Business" hours and days are
# counted as wall-clock time here: the queue errs towards showing a breach early, never late.
RESPONSE_TIMES = {
    Priority.URGENT: timedelta(hours=1),
    Priority.HIGH: timedelta(hours=4),
    Priority.MEDIUM: timedelta(days=1),
    Priority.LOW: timedelta(days=2),
}


def retry_delay(attempts: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next attempt after `attempts` failures: exponential, capped, "equal jitter".

    Half of the capped delay is fixed and half random, so retries never hammer a receiver that just came
    back (many pages failing together spread out) yet never wait less than half the nominal delay.
    """
    nominal = min(cap, base * 2 ** max(0, attempts - 1))
    return nominal / 2 + rng.uniform(0, nominal / 2)


def response_time(priority: str | None) -> timedelta:
    try:
        return RESPONSE_TIMES[Priority(priority or Priority.MEDIUM)]
    except ValueError:
        return RESPONSE_TIMES[Priority.MEDIUM]


def priority_rank(priority: str | None) -> int:
    try:
        return PRIORITY_RANK[Priority(priority or "")]
    except ValueError:
        return len(PRIORITY_RANK)


def is_auto_emergency(classification: Classification, settings: Settings) -> bool:
    """The documented rule: enabled, the category is listed, and the priority is at least the minimum.

    Defaults: categories `escalation` and `technical` at priority `urgent`. The local classifier gives
    `urgent` to fraud, a hacked account, a lost card, safety risks and legal deadlines (escalation) and to
    outages that affect many users (technical); an ordinary "urgent, my app crashes" is only `high`.
    """
    if not settings.auto_emergency_enabled:
        return False
    categories = {category for category in Category if category.value in settings.auto_emergency_categories}
    minimum = PRIORITY_RANK[Priority(settings.auto_emergency_min_priority)]
    return classification.category in categories and PRIORITY_RANK[classification.priority] <= minimum
