"""`Idempotency-Key` on the POSTs that create something: a retry with the same key and body gets the first
result (for a case: the case as it is now) and never creates a second one; the same key with another body is
refused (422). Keys are per account, live in `idempotency_keys` for IDEMPOTENCY_KEY_TTL_HOURS and are
deleted by the jobs' sweep afterwards.

    begin     -> Fresh (go ahead; the key is now in progress) or Earlier (replay), or raises:
                 InputRejected 422 (another body, or a malformed key), Conflict 409 (the first request is
                 still before its case; retry in a moment)
    bind      the case (and job) the request created: a crashed first request is still replayed by case
    complete  the response the first request gave (for requests that made no case)
    release   the first request failed before creating anything: the key may be used again
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from desk.errors import Conflict, InputRejected
from desk.jobs.models import IdempotencyKey, IdempotencyState
from desk.models import utcnow

KEYS = cast(Table, IdempotencyKey.__table__)
HEADER = "Idempotency-Key"
# Printable ASCII, no spaces: UUIDs, ULIDs and the like.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
# A key in progress that never got its case this long after it was taken belongs to a request that died
# before creating anything: a retry may take it over.
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Fresh:
    id: int


@dataclass(frozen=True)
class Earlier:
    id: int
    case_id: str | None
    job_id: str | None
    response_status: int | None
    response_body: dict[str, Any] | None


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def begin(engine: Engine, *, account_id: int, key: str, fingerprint: str, ttl: timedelta) -> Fresh | Earlier:
    if not KEY_PATTERN.fullmatch(key):
        raise InputRejected(
            "The Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.",
            field=HEADER,
            code="invalid_idempotency_key",
        )
    for _ in range(3):
        now = utcnow()
        try:
            with engine.begin() as conn:
                result = conn.execute(
                    insert(KEYS).values(
                        account_id=account_id,
                        key=key,
                        fingerprint=fingerprint,
                        state=IdempotencyState.IN_PROGRESS.value,
                        created_at=now,
                        expires_at=now + ttl,
                    )
                )
                assert result.inserted_primary_key is not None
                return Fresh(int(result.inserted_primary_key[0]))
        except IntegrityError:
            pass  # the key is taken: by an earlier request, or by an expired one
        with engine.begin() as conn:
            row = conn.execute(select(KEYS).where(KEYS.c.account_id == account_id, KEYS.c.key == key)).first()
            if row is None:
                continue  # deleted meanwhile: try again
            if _aware(row.expires_at) <= now:
                conn.execute(delete(KEYS).where(KEYS.c.id == row.id, KEYS.c.expires_at <= now))
                continue
            if row.fingerprint != fingerprint:
                raise InputRejected(
                    "This Idempotency-Key was already used with a different request.",
                    field=HEADER,
                    code="idempotency_key_reused",
                )
            if row.state == IdempotencyState.IN_PROGRESS.value and row.case_id is None and row.response_status is None:
                if _aware(row.created_at) > now - STALE_AFTER:
                    raise Conflict(
                        "A request with this Idempotency-Key is still being processed; retry in a moment.",
                        code="idempotency_key_in_progress",
                    )
                taken = conn.execute(
                    update(KEYS)
                    .where(KEYS.c.id == row.id, KEYS.c.case_id.is_(None), KEYS.c.created_at == row.created_at)
                    .values(created_at=now)
                )
                assert isinstance(taken, CursorResult)
                if taken.rowcount == 1:
                    return Fresh(int(row.id))
                continue
            return Earlier(int(row.id), row.case_id, row.job_id, row.response_status, row.response_body)
    raise Conflict("The Idempotency-Key is contended; retry in a moment.", code="idempotency_key_in_progress")


def bind(engine: Engine, key_id: int, *, case_id: str) -> None:
    """The case a request made (the job, when there is one, is bound by the job's own transaction)."""
    with engine.begin() as conn:
        conn.execute(update(KEYS).where(KEYS.c.id == key_id).values(case_id=case_id))


def complete(engine: Engine, key_id: int, *, status: int, body: dict[str, Any] | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(KEYS)
            .where(KEYS.c.id == key_id)
            .values(state=IdempotencyState.DONE.value, response_status=status, response_body=body)
        )


def release(engine: Engine, key_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(KEYS).where(KEYS.c.id == key_id, KEYS.c.case_id.is_(None)))


def purge_expired(engine: Engine) -> int:
    with engine.begin() as conn:
        result = conn.execute(delete(KEYS).where(KEYS.c.expires_at <= utcnow()))
        assert isinstance(result, CursorResult)
        return int(result.rowcount)


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
