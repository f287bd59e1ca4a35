"""The OpenAPI document says what the desk really answers.

- Every error status a route can send is listed on it (`error_responses(...)`), with the one error body of
  `api.errors` (`ErrorOut`: `{detail, code, request_id, errors?}`) and the headers it carries (401:
  WWW-Authenticate, 429: Retry-After, 503: Retry-After when the database is busy).
- 422: FastAPI documents its own `HTTPValidationError` (`detail` an array); the desk sends `ErrorOut` (`detail`
  a string, the fields in `errors`). `install_openapi` rewrites every 422 to `ErrorOut` and drops FastAPI's
  two schemas, so a route cannot forget.
- Unsupported methods are 405 with an `Allow` header (Starlette's, kept by `api.errors`); they are not
  listed per operation, as OpenAPI lists only the methods an operation has.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.schemas import ErrorOut

_DESCRIPTIONS: dict[int, str] = {
    400: "The request could not be read.",
    401: "Missing, expired, revoked or invalid credentials (`not_authenticated`, `invalid_credentials`).",
    403: "Authenticated, but this account may not do this (`forbidden`, `other_customer`, `role_cannot_file`).",
    404: "No such resource for this caller (other customers' cases are 404 too).",
    409: "The resource is in a state that forbids this (`conflict`, `username_taken`).",
    413: "The body is larger than MAX_BODY_BYTES (`payload_too_large`).",
    422: "A field is invalid (`validation_error`, `input_rejected`); `errors` names each field.",
    429: "Over a rate limit (`rate_limited`); retry after Retry-After seconds.",
    502: "The support agents failed; the case was saved (`crew_failed`, X-Case-ID names it).",
    503: "A dependency is not ready: the database is busy (`database_busy`, with Retry-After), the crew is "
    "loading or the rate-limit store is unreachable (`service_unavailable`, `rate_limit_storage_unavailable`).",
}

_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Always `Bearer`", "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    503: {"Retry-After": {**_RETRY_AFTER, "description": "Sent with `database_busy`"}},
}

ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorOut"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with ErrorOut, its description and headers."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorOut, "description": _DESCRIPTIONS[status]}
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


def _rewrite_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            response = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
            if response is not None:
                response["description"] = _DESCRIPTIONS[422]
                response["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document (built once, on first request, as FastAPI does)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _rewrite_validation_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
