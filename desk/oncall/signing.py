"""The page signature: HMAC-SHA256 over `<timestamp>.<raw body>` with `ONCALL_WEBHOOK_SECRET`.

    X-SupportDesk-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

`t` is the Unix time (seconds) of the attempt and `v1` the lower-case hex digest. A receiver recomputes the
digest over the raw bytes it received, compares in constant time, and refuses timestamps older than a few
minutes (a captured page cannot be replayed later). The scheme follows Stripe's and GitHub's, so most
webhook tooling can check it. The version tag lets us add a scheme later without breaking receivers.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-SupportDesk-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, *, now: float, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """True when `header` is a valid, fresh signature of `body`. What a receiver runs (see docs/oncall.md)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
