"""JWT access tokens (python-jose). Decoding pins the configured algorithm, so `alg: none` and algorithm
swaps are refused, and requires every claim the API relies on.

Parsing is strict before python-jose sees the token: exactly three base64url segments without padding, each
in its one canonical spelling. python-jose alone accepted a token with `==` (or other bits the decoder
drops) appended, so one token had many spellings that all verified."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jose import JWTError, jwt

REQUIRED_CLAIMS = ("sub", "role", "exp", "iat", "jti")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
MAX_TOKEN_LENGTH = 4096
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
    # The account's token version when the token was issued (`ver`; 0 when absent, as before versions).
    version: int = 0


def create_access_token(
    *,
    subject: str,
    role: str,
    customer_id: str | None,
    secret: str,
    algorithm: str,
    expires_minutes: int,
    now: datetime | None = None,
    version: int = 0,
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
        "ver": version,
    }
    if customer_id is not None:
        claims["customer_id"] = customer_id
    return jwt.encode(claims, secret, algorithm=algorithm), int(lifetime.total_seconds())


def _is_canonical_segment(segment: str) -> bool:
    if not _SEGMENT.fullmatch(segment):
        return False
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return False
    # A segment whose last character carries bits the decoder drops would decode to the same bytes.
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == segment


def check_token_format(token: str) -> None:
    """Raise InvalidToken unless `token` is three canonical, unpadded base64url segments."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3 or not all(_is_canonical_segment(p) for p in parts):
        raise InvalidToken("token is not a compact JWS in canonical base64url")


def decode_access_token(token: str, *, secret: str, algorithm: str) -> TokenClaims:
    check_token_format(token)
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
    version = claims.get("ver", 0)
    if type(version) is not int:
        raise InvalidToken("token version is not an integer")
    return TokenClaims(
        sub=str(claims["sub"]),
        role=str(claims["role"]),
        customer_id=str(customer_id) if customer_id is not None else None,
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        version=version,
    )


class VerifiedTokens:
    """`decode_access_token` with a memory of the tokens it has already verified, keyed by the token itself.

    An integrator sends the same token with every request until it expires; verifying it again (canonical
    segments, base64, JSON, HMAC, claim checks) gives the same claims every time, except that it expires. So a
    token seen before is accepted from memory only while it has not expired; anything else is verified in
    full. Only verified tokens are kept, so invalid input cannot fill the memory, which is bounded (when full
    it starts over). Revocation is not decided here: the caller still compares the claims' version with the
    account's. Safe to share between threads (a lost race costs one verification)."""

    def __init__(self, *, secret: str, algorithm: str, max_entries: int = 4096) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self._max = max_entries
        self._seen: dict[str, TokenClaims] = {}

    def decode(self, token: str) -> TokenClaims:
        known = self._seen.get(token)
        if known is not None:
            if datetime.now(UTC) < known.expires_at:
                return known
            self._seen.pop(token, None)
        claims = decode_access_token(token, secret=self._secret, algorithm=self._algorithm)
        if len(self._seen) >= self._max:
            self._seen.clear()
        self._seen[token] = claims
        return claims
