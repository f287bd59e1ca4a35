"""The prompt-injection guard in the intake (docs/guardrails.md), and the hosted-call guard the crew is built with.

The intake calls three things (each one line in desk/intake.py):

- `guarded(intake)` where it calls the crew (`decide_message`, `answer_case`, `classify`): the crew wrapped
  so a flagged message never reaches a model in "safe_reply" mode (INJECTION_ACTION), never becomes an
  automatic emergency (its classification is general/low; a caller's own emergency flag still pages), and in
  "hardened" mode is answered by the crew with hosted calls that have no tools and a hardened system prompt.
  Every answer is also watched for the canary token of hosted calls: a leak replaces the whole reply and is
  audited (`canary_leaked`).
- `record(...)` once the message is stored: a flagged message is audited (`injection_flagged`, with the score
  and signal names, never the text) and marked on its case (`cases.injection_flagged`, `injection_score`).

Messages are scored once (a small cache keyed by the text: the decision, the answer and the record of one
message each ask). The job runner goes through the same intake functions, so queued answers are guarded too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Unpack, cast

from sqlalchemy import Engine, Table, case, update

from crew.models import (
    Category,
    Classification,
    HandleOptions,
    Handling,
    Priority,
    Route,
    SupportCrew,
    SupportResult,
)
from desk.models import Case
from desk.settings import Settings
from security.guard import hosted
from security.guard.injection import InjectionVerdict, default_detector

if TYPE_CHECKING:
    from desk.accounts import Principal
    from desk.audit import AuditLog
    from desk.intake import Intake

logger = logging.getLogger(__name__)

SAFE_REPLY = (
    "Thank you for your message. Part of it reads like instructions for our automated assistant, so the "
    "assistant has not acted on it. If you need help with an order, a bill, your account or a technical "
    "problem, please describe it in your own words and we will gladly help. If you would rather talk to a "
    "person, say so in your reply."
)
SIGNAL = "prompt_injection_suspected"


def suspect_classification() -> Classification:
    """What a flagged message is classified as, without a model: general, low, so never an auto-emergency."""
    return Classification(
        category=Category.GENERAL, priority=Priority.LOW, confidence=0.0, is_complex=False, signals=[SIGNAL]
    )


@lru_cache(maxsize=512)
def _verdict(text: str, threshold: float | None) -> InjectionVerdict:
    return default_detector(threshold).score(text)


def verdict(settings: Settings, text: str) -> InjectionVerdict | None:
    """The detector's verdict on a (sanitised) message; None when the guard is off."""
    if not settings.injection_guard_enabled:
        return None
    return _verdict(text, settings.injection_threshold or None)


def is_flagged(settings: Settings, text: str) -> bool:
    found = verdict(settings, text)
    return found is not None and found.flagged


@dataclass(frozen=True)
class GuardedCrew:
    """A `SupportCrew` that screens each message before the real one sees it (see the module docstring)."""

    inner: SupportCrew
    settings: Settings
    audit: AuditLog | None = None
    case_id: str | None = None

    def classify(self, message: str) -> Classification:
        if is_flagged(self.settings, message):
            return suspect_classification()
        return self.inner.classify(message)

    def handle(self, message: str, **options: Unpack[HandleOptions]) -> SupportResult:
        flagged = is_flagged(self.settings, message)
        asked = Handling.of(options)
        if flagged and self.settings.injection_action == "safe_reply":
            return SupportResult(
                reply=SAFE_REPLY,
                agent_type=asked.route if asked.route is not Route.AUTO else Route.GENERAL,
                classification=asked.classification or suspect_classification(),
            )
        with hosted.watch() as seen:
            if flagged:
                with hosted.hardened():
                    suspect: HandleOptions = {
                        **options,
                        "classification": asked.classification or suspect_classification(),
                    }
                    result = self.inner.handle(message, **suspect)
            else:
                result = self.inner.handle(message, **options)
        if seen.leaks:
            logger.warning("canary token in a hosted reply on case %s: reply replaced", self.case_id)
            if self.audit is not None:
                self.audit.record("canary_leaked", case_id=self.case_id, strings=seen.leaks)
            result = result.model_copy(update={"reply": hosted.LEAK_REPLY, "citations": []})
        return result


def guarded(intake: Intake, case_id: str | None = None) -> SupportCrew:
    """The intake's crew behind the guard (the crew itself when the guard is off)."""
    if not intake.settings.injection_guard_enabled and not intake.settings.hosted_canary_enabled:
        return intake.crew
    return GuardedCrew(intake.crew, intake.settings, intake.audit, case_id)


def record(
    intake: Intake, user: Principal, customer_id: str, case_id: str, message: str, request_id: str
) -> InjectionVerdict | None:
    """Audit a flagged message and mark its case. Returns the verdict (None when the guard is off)."""
    found = verdict(intake.settings, message)
    if found is None or not found.flagged:
        return found
    intake.audit.record(
        "injection_flagged",
        actor=user.username,
        role=user.role.value,
        customer_id=customer_id,
        case_id=case_id,
        score=round(found.score, 4),
        threshold=round(found.threshold, 4),
        signals=list(found.signals),
        action=intake.settings.injection_action,
        request_id=request_id,
    )
    mark_case(intake.engine, case_id, found.score)
    return found


_CASES = cast(Table, Case.__table__)


def mark_case(engine: Engine, case_id: str, score: float) -> None:
    """`injection_flagged` set on the case; `injection_score` keeps the highest score of its messages."""
    column = _CASES.c.injection_score
    with engine.begin() as conn:
        conn.execute(
            update(_CASES)
            .where(_CASES.c.id == case_id)
            .values(
                injection_flagged=True,
                injection_score=case((column.is_(None) | (column < score), score), else_=column),
            )
        )


def hosted_policy(settings: Settings) -> hosted.HostedCallGuard | None:
    """What the crew's hosted model calls go through (None when neither redaction nor the canary is on)."""
    redact = settings.hosted_personal_data == "redact"
    if not redact and not settings.hosted_canary_enabled:
        return None
    return hosted.HostedCallGuard(redact=redact, canary_enabled=settings.hosted_canary_enabled)
