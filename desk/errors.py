"""The desk's exception hierarchy. Every failure a client can see is one of these.

    AppError                      base: carries a machine `code`, a fixed human `message`, an HTTP status
    ├── InputRejected             422  the request was well formed JSON but a field is unacceptable
    │   └── PayloadTooLarge       413  the body is over the configured size
    ├── AuthenticationFailed      401  missing, expired, tampered or unknown credentials
    ├── PermissionDenied          403  authenticated, but the role may not do this
    ├── NotFound                  404  no such resource *for this caller* (also hides other customers' cases)
    ├── Conflict                  409  the resource is in a state that forbids the action
    ├── RateLimited               429  over the per-customer or login limit; carries `retry_after`
    ├── CrewFailed                502  the crew (or every model behind it) failed; the case is marked `failed`
    └── ServiceUnavailable        503  a dependency (database, crew) is not ready
        └── DatabaseBusy          503  the database did not answer in time; carries `retry_after`

`api/errors.py` maps these to HTTP in one place. Messages are fixed strings chosen here, never the
text of an underlying exception, so no internal detail reaches a client; raise them `from exc`.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 500
    code = "internal_error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details
        super().__init__(self.message)


class InputRejected(AppError):
    status_code = 422
    code = "input_rejected"
    message = "The request contains a field that cannot be accepted."


class PayloadTooLarge(InputRejected):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is larger than this service accepts."


class AuthenticationFailed(AppError):
    status_code = 401
    code = "not_authenticated"
    message = "Could not validate credentials."


class PermissionDenied(AppError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "The resource is not in a state that allows this."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests. Retry after the time given in Retry-After."

    def __init__(self, retry_after: int, message: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = max(1, int(retry_after))


class CrewFailed(AppError):
    status_code = 502
    code = "crew_failed"
    message = "The support agents could not answer this request. The case was saved; a person will follow up."


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "The service is temporarily unavailable. Please retry shortly."


class DatabaseBusy(ServiceUnavailable):
    """The database did not answer in time (SQLite locked by another writer past its busy timeout, or the
    PostgreSQL server unreachable). Worth a retry; never a 500."""

    code = "database_busy"
    message = "The case store is busy. Please retry in a few seconds."
    retry_after = 5
