"""Auto-emergency: a request without the emergency flag that the classifier rates an urgent escalation is
handled as an emergency (escalation route, priority urgent, status escalated, paged) and marked
`auto_emergency`. The rule itself is `policy.is_auto_emergency` (AUTO_EMERGENCY_* settings).

The check classifies before the crew runs, so the page leaves at once and the crew writes the emergency
reply ("a person has been alerted"). The classification is handed on to `crew.handle(classification=...)`,
so the crew routes on it instead of classifying again: one classification per request, which with a hosted
classifier is one model call instead of two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crew.models import Classification, SupportCrew
from desk.oncall.policy import is_auto_emergency
from desk.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoEmergencyCheck:
    """The decision, and the classification it was made from (None: not classified here)."""

    emergency: bool
    classification: Classification | None = None


def detect_auto_emergency(crew: SupportCrew, message: str, settings: Settings) -> AutoEmergencyCheck:
    if not settings.auto_emergency_enabled:
        return AutoEmergencyCheck(emergency=False)
    try:
        classification = crew.classify(message)
    except Exception:
        # Undecided is "no": the request goes on as a normal one, and the crew (which then classifies
        # itself) records its own failure on the case if the model is really down.
        logger.exception("auto-emergency check could not classify the request")
        return AutoEmergencyCheck(emergency=False)
    return AutoEmergencyCheck(emergency=is_auto_emergency(classification, settings), classification=classification)
