"""The rules of on-call paging, as pure functions: retry backoff, first-response times. (The auto-emergency rule is
`crew.decision.AutoEmergencyRule`, built from the AUTO_EMERGENCY_* settings.)"""

from __future__ import annotations

import random
from datetime import timedelta

from crew.decision import PRIORITY_RANK
from crew.models import Priority

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
