"""The one place where failures become HTTP responses.

Every error body is `{"detail": fixed human message, "code": machine code, "request_id": ...}`; 422s add
`errors: [{field, message}]`. Messages come from `desk.errors` classes or the tables below, never from an
exception's text, so nothing internal reaches a client. 401 carries `WWW-Authenticate: Bearer`, 429
carries `Retry-After`, 405 carries `Allow`. `api.openapi` documents these bodies and headers.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from desk.errors import (
    AppError,
    AuthenticationFailed,
    Conflict,
    CrewFailed,
    DatabaseBusy,
    InputRejected,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be read."),
    401: (AuthenticationFailed.code, AuthenticationFailed.message),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is larger than this service accepts."),
    415: ("unsupported_media_type", "This content type is not accepted."),
}
# Most specific class first: the first match wins.
STATUS_OF: tuple[tuple[type[AppError], int], ...] = (
    (PayloadTooLarge, 413),
    (InputRejected, 422),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (CrewFailed, 502),
    (ServiceUnavailable, 503),
)
INTERNAL = ("internal_error", "The request could not be completed. It has been logged.")


def status_of(exc: AppError) -> int:
    return next((status for cls, status in STATUS_OF if isinstance(exc, cls)), 500)


def request_id_of(request: Request) -> str:
    ctx = getattr(request.state, "ctx", None)
    return ctx.request_id if ctx is not None else "-"


def error_response(
    status: int,
    code: str,
    detail: str,
    request_id: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "code": code, "request_id": request_id}
    if errors:
        body["errors"] = errors
    all_headers = {"X-Request-ID": request_id, **(headers or {})}
    if status == 401:
        all_headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=all_headers)


def internal_error_response(request_id: str) -> JSONResponse:
    return error_response(500, *INTERNAL, request_id)


def _note_in_context(request: Request, exc: AppError) -> None:
    """The use cases name the customer and case an error concerns; the access audit line records them."""
    ctx = getattr(request.state, "ctx", None)
    if ctx is None:
        return
    if "customer_id" in exc.details and ctx.customer_id is None:
        ctx.customer_id = str(exc.details["customer_id"])
    if "case_id" in exc.details:
        ctx.case_id = str(exc.details["case_id"])


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if "case_id" in exc.details:
        headers["X-Case-ID"] = str(exc.details["case_id"])
    _note_in_context(request, exc)
    field = exc.details.get("field")
    errors = [{"field": str(field), "message": exc.message}] if field else None
    return error_response(status_of(exc), exc.code, exc.message, request_id_of(request), errors=errors, headers=headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # The driver's text (SQL, parameters) goes to the log only; the client gets a retryable 503.
    logger.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, exc.__class__.__name__, exc_info=exc
    )
    return await _app_error(request, DatabaseBusy())


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    # Drop the "body"/"query" prefix FastAPI adds: clients name fields, not request parts.
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] in {"body", "query", "path", "header"} else parts)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only the location and pydantic's message: the rejected input itself is never echoed back.
    errors = [{"field": _field_name(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    return error_response(
        422, "validation_error", "A field of the request is invalid.", request_id_of(request), errors=errors
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (Starlette's own `Allow` names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, detail = _HTTP_CODES.get(exc.status_code, ("http_error", "The request could not be completed."))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # RFC 9110: a 405 says which methods the resource has.
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, code, detail, request_id_of(request), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions are caught by RequestContextMiddleware, which calls internal_error_response,
    # because Starlette's own catch-all re-raises after answering.
