from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from security.passwords import hash_password, verify_password
from security.redact import redact
from security.tokens import InvalidToken, VerifiedTokens, create_access_token, decode_access_token

SECRET = "s" * 40


def test_argon2_hashing_works_with_the_installed_backends() -> None:
    # passlib + bcrypt 5 fails at the first hash (GUIDE section 2); argon2 must not.
    hashed = hash_password("a" * 100)  # longer than bcrypt's 72-byte limit
    assert hashed.startswith("$argon2")
    assert verify_password("a" * 100, hashed)
    assert not verify_password("a" * 99, hashed)
    assert not verify_password("x", None)
    assert not verify_password("x", "not-a-hash")


def test_token_round_trip_and_claims() -> None:
    token, lifetime = create_access_token(
        subject="u", role="integrator", customer_id=None, secret=SECRET, algorithm="HS256", expires_minutes=5
    )
    claims = decode_access_token(token, secret=SECRET, algorithm="HS256")
    assert (claims.sub, claims.role, claims.customer_id, lifetime) == ("u", "integrator", None, 300)


@pytest.mark.parametrize("mutation", ["expired", "wrong_secret", "alg_swap", "bad_role"])
def test_tokens_rejected(mutation: str) -> None:
    now = datetime.now(UTC)
    claims = {
        "sub": "u",
        "role": "customer",
        "jti": "j",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    secret, algorithm = SECRET, "HS256"
    if mutation == "expired":
        claims["exp"] = int((now - timedelta(seconds=5)).timestamp())
    elif mutation == "wrong_secret":
        secret = "t" * 40
    elif mutation == "alg_swap":
        algorithm = "HS384"
    else:
        claims["role"] = "root"
    with pytest.raises(InvalidToken):
        decode_access_token(jwt.encode(claims, secret, algorithm=algorithm), secret=SECRET, algorithm="HS256")


def test_a_remembered_token_is_accepted_only_until_it_expires() -> None:
    tokens = VerifiedTokens(secret=SECRET, algorithm="HS256")
    # Issued so that it expires within two seconds (lifetimes are whole minutes).
    issued = datetime.now(UTC) - timedelta(minutes=1) + timedelta(seconds=1.2)
    token, _ = create_access_token(
        subject="u", role="staff", customer_id=None, secret=SECRET, algorithm="HS256", expires_minutes=1, now=issued
    )
    first = tokens.decode(token)
    assert tokens.decode(token) == first
    time.sleep(max(0.0, (first.expires_at - datetime.now(UTC)).total_seconds()) + 1.1)
    with pytest.raises(InvalidToken):
        tokens.decode(token)


def test_a_token_changed_by_one_character_is_verified_in_full_and_refused() -> None:
    tokens = VerifiedTokens(secret=SECRET, algorithm="HS256")
    token, _ = create_access_token(
        subject="u", role="integrator", customer_id=None, secret=SECRET, algorithm="HS256", expires_minutes=5
    )
    tokens.decode(token)
    header, payload, signature = token.split(".")
    forged = jwt.encode({**jwt.get_unverified_claims(token), "role": "admin"}, "t" * 40, algorithm="HS256")
    for bad in (forged, f"{header}.{payload}.{signature[:-2]}", f"{header}.{payload}.{signature}==", ""):
        for _attempt in range(2):  # refused again the second time: a refusal is never remembered
            with pytest.raises(InvalidToken):
                tokens.decode(bad)
    assert tokens.decode(token).role == "integrator"


def test_the_memory_of_verified_tokens_is_bounded() -> None:
    tokens = VerifiedTokens(secret=SECRET, algorithm="HS256", max_entries=3)
    issued = [
        create_access_token(
            subject=f"u{i}", role="customer", customer_id=f"c{i}", secret=SECRET, algorithm="HS256", expires_minutes=5
        )[0]
        for i in range(10)
    ]
    assert [tokens.decode(token).sub for token in issued] == [f"u{i}" for i in range(10)]
    assert len(tokens._seen) <= 3


def test_redact_emails_and_cards() -> None:
    text = "mail jane.doe+x@example.co.uk card 4111 1111 1111 1111 or 5500-0000-0000-0004, order 12345"
    out = redact(text)
    assert "example" not in out and "4111" not in out and "5500" not in out
    assert out.count("[email]") == 1 and out.count("[card]") == 2 and "12345" in out


def test_redact_keeps_case_ids_whose_hex_starts_with_a_long_digit_run() -> None:
    case_id = "48834770217640b08590af50f182185e"  # a real uuid4 hex that was once logged as "[card]b085..."
    assert redact(f"crew failed on case {case_id}") == f"crew failed on case {case_id}"
    assert redact("card:4111111111111111.") == "card:[card]."
