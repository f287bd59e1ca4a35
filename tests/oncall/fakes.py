"""The crew on-call tests use: the shared `bench.fake_crew.FakeCrew`, rating "hacked" an urgent escalation
like the real classifier, answering emergencies with its own emergency reply, and other messages with a
reply that says how much of the case thread it was handed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.fake_crew import FakeCrew, ReplyFor
from crew.models import Citation, ThreadMessage

EMERGENCY_REPLY = "We are treating this as an emergency. What happens next: ..."


def _answer(message: str, history: Sequence[ThreadMessage]) -> str:
    return f"Answer to: {message} (seen {len(history)} earlier messages)"


@dataclass
class RecordingCrew(FakeCrew):
    reply: str | ReplyFor = _answer
    emergency_reply: str | None = EMERGENCY_REPLY
    urgent_markers: tuple[str, ...] = ("hacked",)
    citations: tuple[Citation, ...] = (Citation(article_id="KB-031", title="Escalation policy"),)
