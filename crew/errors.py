"""What the crew raises. No HTTP meaning here: the desk decides what a failure means for a client."""

from __future__ import annotations


class CrewError(Exception):
    """The crew could not do what it was asked."""


class AnswerFailed(CrewError):
    """No model produced an answer: the hosted one (if any) and then the local fallback both failed.

    The message is fixed; the cause is chained (`raise AnswerFailed() from exc`) for the log only.
    """

    def __init__(self, message: str = "the crew could not answer this request") -> None:
        super().__init__(message)
