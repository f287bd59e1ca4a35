"""The HTTP side of jobs: `Prefer` (RFC 7240), 202 Accepted, and `Idempotency-Key` replays.

- `Prefer: respond-async` answers at once with 202 `{case_id, status, status_url, events_url, job_id}` (and
  `Location`, `Preference-Applied`); `Prefer: wait=N` waits at most N seconds (never more than
  JOB_WAIT_SECONDS); without either the request waits JOB_WAIT_SECONDS for the answer, then answers 202.
- `Idempotency-Key`: the first request with a key goes ahead; a retry with the same key and body gets the
  first result (the case as it is now: 200 answered, 202 still queued or running, 502 failed); the same key
  with another body is a 422 (`idempotency_key_reused`). The response says `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import status_of
from desk import idempotency
from desk.errors import AppError, CrewFailed, InputRejected
from desk.jobs import store
from desk.jobs.models import ACTIVE
from desk.jobs.outcome import JobOutcome, load
from desk.models import CaseStatus
from desk.settings import Settings

_WAIT = re.compile(r"^wait\s*=\s*(\d+(?:\.\d+)?)$", re.IGNORECASE)


class JobAccepted(BaseModel):
    """The answer is not there yet: follow the case at `status_url` or stream `events_url`."""

    case_id: str
    status: str
    status_url: str
    events_url: str
    job_id: str | None


@dataclass(frozen=True)
class Preferences:
    respond_async: bool = False
    wait: float | None = None

    def wait_seconds(self, settings: Settings) -> float:
        if self.respond_async:
            return 0.0
        if self.wait is not None:
            return min(self.wait, settings.job_wait_seconds)
        return settings.job_wait_seconds


def preferences(request: Request) -> Preferences:
    respond_async, wait = False, None
    for header in request.headers.getlist("prefer"):
        for token in header.split(","):
            name = token.split(";", 1)[0].strip()
            if name.lower() == "respond-async":
                respond_async = True
            elif (match := _WAIT.match(name)) is not None:
                wait = float(match.group(1))
    return Preferences(respond_async, wait)


def accepted(case_id: str, status: str, job_id: str | None, prefs: Preferences) -> Response:
    status_url = f"/support/cases/{case_id}"
    body = JobAccepted(
        case_id=case_id,
        status=status,
        status_url=status_url,
        events_url=f"{status_url}/events",
        job_id=job_id,
    )
    headers = {"Location": status_url}
    if prefs.respond_async:
        headers["Preference-Applied"] = "respond-async"
    return Response(body.model_dump_json(), status_code=202, media_type="application/json", headers=headers)


@dataclass
class KeyUse:
    """The Idempotency-Key of one request: `fresh` to go ahead with, or `replay` to answer with at once."""

    settings: Settings
    fresh: idempotency.Fresh | None = None
    replay: idempotency.Earlier | None = None

    @property
    def key_id(self) -> int | None:
        return self.fresh.id if self.fresh is not None else None


def begin_key(request: Request, settings: Settings, engine: Any, account_id: int, body: Callable[[], Any]) -> KeyUse:
    """`body` gives the request's JSON for the key's fingerprint; it is read only when a key is sent."""
    key = request.headers.get(idempotency.HEADER)
    use = KeyUse(settings)
    if key is None:
        return use
    try:
        fingerprint = idempotency.fingerprint(request.method, request.url.path, body())
    except (ValueError, RecursionError) as exc:
        # A context too deep to serialise: the same answer the intake's own check gives it.
        raise InputRejected("The context is nested too deeply.", field="context") from exc
    found = idempotency.begin(
        engine,
        account_id=account_id,
        key=key,
        fingerprint=fingerprint,
        ttl=timedelta(hours=settings.idempotency_key_ttl_hours),
    )
    if isinstance(found, idempotency.Earlier):
        use.replay = found
    else:
        use.fresh = found
    return use


def run_keyed(engine: Any, use: KeyUse, action: Callable[[], Response]) -> Response:
    """Run the request's action under its key: a failure before anything was created frees the key; any
    other result is remembered (the case is bound to the key by the job's own transaction)."""
    if use.fresh is None:
        return action()
    try:
        response = action()
    except AppError as exc:
        if "case_id" in exc.details:
            idempotency.bind(engine, use.fresh.id, case_id=str(exc.details["case_id"]))
            idempotency.complete(engine, use.fresh.id, status=status_of(exc), body=None)
        else:
            idempotency.release(engine, use.fresh.id)
        raise
    except Exception:
        idempotency.release(engine, use.fresh.id)
        raise
    body: dict[str, Any] | None = None
    if response.status_code < 300 and response.media_type == "application/json":
        import json

        body = json.loads(bytes(response.body))
    idempotency.complete(engine, use.fresh.id, status=response.status_code, body=body)
    return response


def replayed(response: Response) -> Response:
    response.headers["Idempotent-Replayed"] = "true"
    return response


def replay_job(
    engine: Any,
    earlier: idempotency.Earlier,
    prefs: Preferences,
    answered: Callable[[JobOutcome], Response],
    customer_id: str | None = None,
) -> Response:
    """The first request's job as it is now: still queued or running (202), answered (`answered(outcome)`),
    or failed (the same error as the first time)."""
    assert earlier.job_id is not None and earlier.case_id is not None
    view = store.get(engine, earlier.job_id)
    if view is None:
        raise CrewFailed(case_id=earlier.case_id, customer_id=customer_id)
    if view.status in ACTIVE:
        status = CaseStatus.RUNNING.value if view.status == "running" else CaseStatus.QUEUED.value
        return replayed(accepted(earlier.case_id, status, earlier.job_id, prefs))
    found = load(engine, earlier.job_id)
    if found is None or not found.answered:
        raise CrewFailed(case_id=earlier.case_id, customer_id=customer_id)
    return replayed(answered(found))


def replay_stored(earlier: idempotency.Earlier) -> Response:
    if earlier.response_status is not None and earlier.response_body is not None:
        return replayed(JSONResponse(earlier.response_body, status_code=earlier.response_status))
    from desk.errors import Conflict

    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry in a moment.",
        code="idempotency_key_in_progress",
    )
