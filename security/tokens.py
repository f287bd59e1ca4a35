"""JWT access tokens (python-jose). Decoding pins the configured algorithm, so `alg: none` and algorithm
swaps are refused, and requires every claim the API relies on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jose import JWTError, jwt

REQUIRED_CLAIMS = ("sub", "role", "exp", "iat", "jti")
ROLES = frozenset({"customer", "integrator", "staff", "admin"})


class InvalidToken(ValueError):
    """The token is missing, expired, tampered, signed differently or lacks a claim."""


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    role: str
    customer_id: str | None
    jti: str
    expires_at: datetime


def create_access_token(
    *,
    subject: str,
    role: str,
    customer_id: str | None,
    secret: str,
    algorithm: str,
    expires_minutes: int,
    now: datetime | None = None,
) -> tuple[str, int]:
    """Return the signed token and its lifetime in seconds."""
    issued = now or datetime.now(UTC)
    lifetime = timedelta(minutes=expires_minutes)
    claims: dict[str, object] = {
        "sub": subject,
        "role": role,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if customer_id is not None:
        claims["customer_id"] = customer_id
    return jwt.encode(claims, secret, algorithm=algorithm), int(lifetime.total_seconds())


def decode_access_token(token: str, *, secret: str, algorithm: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require_" + name: True for name in ("exp", "iat", "sub", "jti")},
        )
    except JWTError as exc:
        raise InvalidToken("token could not be verified") from exc
    if any(name not in claims for name in REQUIRED_CLAIMS) or claims["role"] not in ROLES:
        raise InvalidToken("token lacks a required claim")
    customer_id = claims.get("customer_id")
    return TokenClaims(
        sub=str(claims["sub"]),
        role=str(claims["role"]),
        customer_id=str(customer_id) if customer_id is not None else None,
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )
