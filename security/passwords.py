"""Password hashing with passlib's argon2 scheme.

Not bcrypt: passlib 1.7.4 breaks on bcrypt >= 4.1 (and crewai's dependencies pull bcrypt 5), see the
engineering guide section 2. argon2-cffi is the backend.
"""

from __future__ import annotations

from passlib.context import CryptContext

# A constant configuration object, never mutated after import.
_CONTEXT = CryptContext(schemes=["argon2"], deprecated="auto")
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$aw1BCGEMYey9FwKA8P7fWw$vNIrLipFZ4Lf06222ZBBIS73D+WlFqX7brQ1MV90BDM"


def hash_password(password: str) -> str:
    return _CONTEXT.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when the password matches. With no hash (unknown user) it still spends the time of one check."""
    if password_hash is None:
        _CONTEXT.verify(password, _DUMMY_HASH)
        return False
    try:
        return bool(_CONTEXT.verify(password, password_hash))
    except ValueError:
        # A malformed stored hash is a failed login, not a server error.
        return False
