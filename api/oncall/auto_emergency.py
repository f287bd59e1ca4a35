"""Auto-emergency: a request without the emergency flag that the classifier rates an urgent escalation is
handled as an emergency (escalation route, priority urgent, status escalated, paged) and marked
`auto_emergency`. The rule itself is `policy.is_auto_emergency` (AUTO_EMERGENCY_* settings).

The check classifies before the crew runs, so the page leaves at once and the crew writes the emergency
reply ("a person has been alerted"). Cost: one more classification per request while the rule is on,
under a millisecond with the local classifier, one more model call with a hosted one.
"""

from __future__ import annotations

import logging

from api.oncall.policy import is_auto_emergency
from crew.models import SupportCrew
from crew.settings import Settings

logger = logging.getLogger(__name__)


def detect_auto_emergency(crew: SupportCrew, message: str, settings: Settings) -> bool:
    if not settings.auto_emergency_enabled:
        return False
    try:
        classification = crew.classify(message)
    except Exception:
        # Undecided is "no": the request goes on as a normal one, and the crew (which classifies again)
        # records its own failure on the case if the model is really down.
        logger.exception("auto-emergency check could not classify the request")
        return False
    return is_auto_emergency(classification, settings)
