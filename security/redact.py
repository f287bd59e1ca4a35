"""Redaction of personal data from anything written to a log (the application log's formatter and every
audit-log field go through `redact`).

What counts as personal data, and how a candidate is confirmed, is `security.guard.pii`: e-mail addresses,
card numbers (Luhn and an issuer prefix), IBANs (mod-97), phone numbers (libphonenumber) and national ids
(checksums). Each is replaced by a mark (`[email]`, `[card]`, `[iban]`, `[phone]`, `[id]`). Candidates must
stand on their own (no letter or digit touching either end): our case ids are uuid4 hex, and about one in
fifty starts with 13+ digits, which were once redacted from the logs as if a card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from security.guard.pii import MARKS, redact_pii

EMAIL_MARK = MARKS["email"]
CARD_MARK = MARKS["card"]


def redact(text: str) -> str:
    return redact_pii(text)


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
