"""Redaction of personal data (e-mail addresses, card numbers) from anything written to a log."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes: every common card number layout. The run must stand
# on its own (no letter or digit touching either end): our case ids are uuid4 hex, and about one in fifty
# starts with 13+ digits, which were redacted from the audit log and the application log as if a card.
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")

EMAIL_MARK = "[email]"
CARD_MARK = "[card]"


def redact(text: str) -> str:
    return _CARD.sub(CARD_MARK, _EMAIL.sub(EMAIL_MARK, text))


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Redact every string value, recursively."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            out[key] = redact(value)
        elif isinstance(value, Mapping):
            out[key] = redact_fields(value)
        elif isinstance(value, list):
            out[key] = [redact(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out
