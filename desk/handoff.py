"""When a case goes to a person, and the one sentence that tells the customer so.

The crew writes the help; the desk writes the promise. A reply says a person will take over only when the
case is in a people's queue (status `needs_human` or `escalated`), and says by when, from the escalation
policy's first-response times (KB-031). It says on-call was paged only when a page was queued *and* a
pager is configured. So every promise in a reply is made by the code that kept it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from crew.models import Category, Classification, Priority, Route, SupportResult
from desk.oncall.policy import response_time

# Router signals of a customer asking for a person (crew/local_model/data/vocabulary.yaml rules).
HUMAN_REQUEST_SIGNALS = frozenset({"rule:asks_for_human", "rule:needs_human"})

# A message that is (nearly) only the word for "person", in the languages whose notice asks for it
# (desk/language.py), or an English request the router's rules might miss.
_PERSON_WORD = re.compile(
    r"^\W*(a\s+)?(person|human|persona|personne|pessoa|persoon|mensch|people|humano|humain)\W*$", re.IGNORECASE
)

# "That didn't help" in a follow-up, in the languages the desk detects. Deliberately narrow: a false hit
# only hands the case to a person, a miss leaves the customer with the crew, who can still ask for one.
_NOT_HELPED = re.compile(
    r"\b(did ?n[o']?t|does ?n[o']?t|not|never|still (does ?n[o']?t|not))\s+(help|work|fix|solve)(ed|s)?\b"
    r"|\bno(thing)? (of (this|that) )?(helped|worked)\b|\bstill (broken|not working|the same|failing)\b"
    r"|\bnicht geholfen\b|\bfunktioniert (immer noch )?nicht\b|\bn'a pas (aidé|marché|fonctionné)\b"
    r"|\bno (me )?(ha|han) (ayudado|funcionado)\b|\bnon (ha|mi ha) (aiutato|funzionato)\b"
    r"|\bn[ãa]o (ajudou|funcionou)\b|\bniet geholpen\b|\bwerkt (nog steeds )?niet\b",
    re.IGNORECASE,
)


class HandoffReason:
    ESCALATION_ROUTE = "escalation_route"
    ASKED_FOR_PERSON = "asked_for_person"
    NO_ARTICLE = "no_grounding_article"
    UNSURE_COMPLEX = "unsure_complex"
    DID_NOT_HELP = "did_not_help"
    LANGUAGE = "language_needs_person"


def did_not_help(text: str) -> bool:
    return bool(_NOT_HELPED.search(text))


def handoff_reason(
    result: SupportResult, *, follow_up_text: str | None, unsure_below: float, complex_route: bool
) -> str | None:
    """Why this (non-emergency) answer should go to a person, or None when the crew's answer stands."""
    classification: Classification = result.classification
    if result.agent_type is Route.ESCALATION or (
        complex_route and Category.ESCALATION in (classification.category, *classification.secondary_categories)
    ):
        return HandoffReason.ESCALATION_ROUTE
    if HUMAN_REQUEST_SIGNALS.intersection(classification.signals) or (
        follow_up_text is not None and _PERSON_WORD.match(follow_up_text)
    ):
        return HandoffReason.ASKED_FOR_PERSON
    if follow_up_text is not None and did_not_help(follow_up_text):
        return HandoffReason.DID_NOT_HELP
    if not result.citations:
        return HandoffReason.NO_ARTICLE
    if complex_route and classification.confidence < unsure_below:
        return HandoffReason.UNSURE_COMPLEX
    return None


@dataclass(frozen=True)
class Promise:
    """What the desk did about people for this message; `notice()` puts it into words."""

    queued_for_person: bool
    emergency: bool
    paged: bool
    due_at: datetime | None

    def notice(self) -> str | None:
        if self.emergency:
            who = (
                "We are paging the person on call now"
                if self.paged
                else "Your case is at the top of our team's urgent queue"
            )
            return (
                f"{who}; a person will respond by {_when(self.due_at)}. If anyone is in immediate danger, "
                "call your local emergency number (112 in Europe, 911 in North America) first."
            )
        if self.queued_for_person:
            return f"I've put your case in our team's queue; a person will reply here by {_when(self.due_at)}."
        return None


def due_at(priority: Priority | None, now: datetime) -> datetime:
    return now + response_time(priority.value if priority else None)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "the time our escalation policy gives"
    return moment.strftime("%H:%M UTC on %d %b %Y").replace(" 0", " ")


def with_notice(reply: str, promise: Promise) -> str:
    notice = promise.notice()
    return f"{notice}\n\n{reply}" if notice else reply
