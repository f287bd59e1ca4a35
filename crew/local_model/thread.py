"""What the local model reads from a case's earlier messages (the `<history>` fence): which articles the desk
already cited, which steps and sentences it already gave, and what the customer said before.

A follow-up is answered from this: the search query keeps the case's topic (a bare "what now?" still
searches for the first message's problem), steps the customer already has are not given again, and an
article that was already used gives way to the next one. Only our own earlier replies are compared
word-for-word; the customer's text is only ever used as search terms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from crew.knowledge_base import terms

_CITATION = re.compile(r"\[(KB-\d{3})\]")
_CASE_DETAILS = re.compile(r"^case details: (\{.*\})\s*$", re.MULTILINE)
_LINE = re.compile(r"^(customer|agent|staff):\s?(.*)$")
_STEP = re.compile(r"^\s*\d+[.)]\s+")
# "I did all that", "tried everything", "done all of the above": every step given so far is done.
_ALL_DONE = re.compile(
    r"\b(did|done|tried|checked|followed|went through)\s+(all|everything|every step|each step|those|these|them|that)\b"
    r"|\b(all|none) of (the|those|these|that|them|your) (steps|suggestions|above)\b",
    re.IGNORECASE,
)
# Two earlier customer messages are enough to keep the topic; more would drown the new question.
TOPIC_MESSAGES = 2


def normalised(text: str) -> str:
    """A sentence or step as compared with earlier replies: its search terms, in order."""
    return " ".join(terms(_CITATION.sub("", _STEP.sub("", text))))


@dataclass(frozen=True)
class ThreadFacts:
    cited: tuple[str, ...] = ()
    given: frozenset[str] = field(default_factory=frozenset)
    customer_messages: tuple[str, ...] = ()
    # From the desk's customer profile (case details): how many other cases of theirs are still being worked
    # on (not those answered and waiting on the customer).
    other_open_cases: int = 0

    @property
    def is_follow_up(self) -> bool:
        return bool(self.cited or self.given or self.customer_messages)

    def already_given(self, text: str) -> bool:
        return normalised(text) in self.given

    def search_query(self, message: str) -> str:
        """The new message first, then the case's opening messages, so the topic carries over."""
        return "\n".join([message, *self.customer_messages[:TOPIC_MESSAGES]])


def reports_all_done(message: str) -> bool:
    return bool(_ALL_DONE.search(message))


def read_thread(history: str) -> ThreadFacts:
    """Split the `<history>` lines (`author: text`, continued on following lines) into facts."""
    messages: list[tuple[str, list[str]]] = []
    for line in history.splitlines():
        match = _LINE.match(line)
        if match:
            messages.append((match.group(1), [match.group(2)]))
        elif messages:
            messages[-1][1].append(line)
    cited: list[str] = []
    given: set[str] = set()
    customer: list[str] = []
    for author, lines in messages:
        text = "\n".join(lines).strip()
        if author == "customer":
            customer.append(text)
            continue
        for article_id in _CITATION.findall(text):
            if article_id not in cited:
                cited.append(article_id)
        for line in lines:
            for piece in re.split(r"(?<=[.!?])\s+", line.strip()):
                key = normalised(piece)
                if key:
                    given.add(key)
    return ThreadFacts(tuple(cited), frozenset(given), tuple(customer), _other_open_cases(history))


def _other_open_cases(history: str) -> int:
    """`customer_profile.in_progress_cases` of the case details line the crew adds to the history, if any."""
    match = _CASE_DETAILS.search(history)
    if match is None:
        return 0
    try:
        details = json.loads(match.group(1))
        return max(0, int(details.get("customer_profile", {}).get("in_progress_cases", 0)))
    except (ValueError, TypeError, AttributeError):
        return 0
