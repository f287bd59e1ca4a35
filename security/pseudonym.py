"""Keyed pseudonyms for what must not be logged as typed.

A username typed at a failed login may be a password typed into the wrong field. The audit log keeps a keyed
hash of it instead (HMAC-SHA256 under the desk's secret, cut to 16 hex digits): the same text always gives
the same pseudonym, so repeated attempts on one name can be followed, while the text itself cannot be
read back, nor guessed offline without the secret.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(value: str, *, key: str, purpose: str) -> str:
    digest = hmac.new(key.encode(), f"{purpose}\x00{value}".encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "h:" + digest.hexdigest()[:16]
