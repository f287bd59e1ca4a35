"""The OpenAPI document says what the desk really answers.

- Every error status a route can send is listed on it (`error_responses(...)`), with the one error body of
  `api.errors` (`ErrorOut`: `{detail, code, request_id, errors?}`) and the headers it carries (401:
  WWW-Authenticate, 429: Retry-After, 503: Retry-After when the database is busy).
- 422: FastAPI documents its own `HTTPValidationError` (`detail` an array); the desk sends `ErrorOut` (`detail`
  a string, the fields in `errors`). `install_openapi` rewrites every 422 to `ErrorOut` and drops FastAPI's
  two schemas, so a route cannot forget.
- What every route of a kind can send is added by rule (`GENERIC`), so no route can forget it: 401 where the
  operation needs a token, 413 where it takes a body (the middleware refuses an oversize one before routing),
  503 everywhere but `/healthz` (the database or the crew not ready). What only some routes send (403,
  404, 409, 429, 502) is declared on the route (`error_responses`), or, for routes whose modules other work
  owns, in ROUTE_ERRORS below; `tests/api/test_contract.py` (schemathesis) fails if a status is missing.
- Unsupported methods are 405 with an `Allow` header listing every method of the path (`api.errors`); they
  are not listed per operation, as OpenAPI lists only the methods an operation has.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.schemas import ErrorOut

_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read (not valid JSON or form data).",
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
_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_NO_DATABASE = frozenset({"/healthz"})
_FILING = (403, 429, 502)
# (method, path) -> the statuses only that route sends, besides the generic ones.
ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    **{("post", f"/support/{name}"): _FILING for name in ("request", "billing", "technical", "escalation", "complex")},
    ("post", "/support/classify"): _FILING,
    ("get", "/support/cases"): (403,),
    ("get", "/support/cases/{case_id}"): (404,),
    ("post", "/support/cases/{case_id}/messages"): (403, 404, 409, *_FILING),
    ("post", "/support/cases/{case_id}/ack"): (403, 404, 409),
    ("post", "/support/cases/{case_id}/status"): (403, 404, 409),
    ("patch", "/support/cases/{case_id}"): (403, 404, 409),
    ("post", "/support/cases/{case_id}/handback"): (403, 404, 409),
    ("get", "/support/oncall/queue"): (403,),
    ("get", "/support/oncall/pages"): (403,),
    ("get", "/support/status"): (403,),
}
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


def _error_entry(status: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": ERROR_SCHEMA_REF}},
    }
    if status in _HEADERS:
        entry["headers"] = _HEADERS[status]
    return entry


def _generic_errors(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    statuses = list(ROUTE_ERRORS.get((method, path), ()))
    if "requestBody" in operation:
        statuses.append(400)  # a body that is not valid JSON (or form) at all
    if operation.get("security"):
        statuses.append(401)
    if method in _BODY_METHODS:
        statuses.append(413)
    if path not in _NO_DATABASE:
        statuses.append(503)
    return statuses


def _not_nullable(parameter: dict[str, Any]) -> None:
    """A query, path or header parameter cannot carry JSON null (leaving it out is how one says None), yet
    FastAPI documents `X | None` parameters as `anyOf: [X, null]`, and a client reading that sends `null`."""
    schema = parameter.get("schema", {})
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default") or (k == "default" and v is not None)}
        parameter["schema"] = {**branches[0], **rest}


def _rewrite_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _not_nullable(parameter)
            responses = operation["responses"]
            response = responses.get("422")
            if response is not None:
                response["description"] = _DESCRIPTIONS[422]
                response["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
            for status in _generic_errors(path, method, operation):
                responses.setdefault(str(status), _error_entry(status))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in schemas:
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorOut"] = error_schema
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document (built once, on first request, as FastAPI does): 422s with ErrorOut,
    the generic error statuses added, parameters without `null`."""

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
