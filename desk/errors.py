"""The desk's exception hierarchy. Every failure a client can see is one of these.

    AppError                 base: carries a machine `code` and a fixed human `message`
    ├── InputRejected        a field is unacceptable
    │   └── PayloadTooLarge  the body is over the configured size
    ├── AuthenticationFailed missing, expired, tampered or unknown credentials
    ├── PermissionDenied     authenticated, but the role may not do this
    ├── NotFound             no such resource *for this caller* (also hides other customers' cases)
    ├── Conflict             the resource is in a state that forbids the action
    ├── RateLimited          over the per-customer or login limit; carries `retry_after`
    ├── CrewFailed           the crew (or every model behind it) failed; the case is marked `failed`
    └── ServiceUnavailable   a dependency (database, crew) is not ready; carries `retry_after`
        └── DatabaseBusy     the database did not answer in time

The desk knows nothing of HTTP: `api/errors.py` maps each class to a status code, in one place. Messages
are fixed strings chosen here, never the text of an underlying exception, so no internal detail reaches a
client; raise them `from exc`.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "internal_error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details
        super().__init__(self.message)


class InputRejected(AppError):
    code = "input_rejected"
    message = "The request contains a field that cannot be accepted."


class PayloadTooLarge(InputRejected):
    code = "payload_too_large"
    message = "The request body is larger than this service accepts."


class AuthenticationFailed(AppError):
    code = "not_authenticated"
    message = "Could not validate credentials."


class PermissionDenied(AppError):
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(AppError):
    code = "not_found"
    message = "Not found."


class Conflict(AppError):
    code = "conflict"
    message = "The resource is not in a state that allows this."


class RateLimited(AppError):
    code = "rate_limited"
    message = "Too many requests. Retry after the time given in Retry-After."

    def __init__(self, retry_after: int, message: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = max(1, int(retry_after))


class CrewFailed(AppError):
    code = "crew_failed"
    # No promise of a person: a failed answer is not put in a people's queue (desk/handoff.py).
    message = "The support agents could not answer this request. The case was saved; please try again shortly."


class ServiceUnavailable(AppError):
    code = "service_unavailable"
    message = "The service is temporarily unavailable. Please retry shortly."
    retry_after = 5


class DatabaseBusy(ServiceUnavailable):
    """The database did not answer in time (SQLite locked by another writer past its busy timeout, or the
    PostgreSQL server unreachable). Worth a retry; never a 500."""

    code = "database_busy"
    message = "The case store is busy. Please retry in a few seconds."
