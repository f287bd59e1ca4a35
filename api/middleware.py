"""Request context middleware (pure ASGI, so it adds microseconds, not a task per request).

For every HTTP request it:
- assigns the request id (a well-formed incoming `X-Request-ID` is kept) and returns it as a header;
- finds the client address: the socket peer, or, when the peer is one of TRUSTED_PROXIES, the last
  X-Forwarded-For hop that is not a trusted proxy (hops further left are whatever the client claimed);
- refuses bodies over MAX_BODY_BYTES with 413, by Content-Length and by counting what actually arrives
  (the body is buffered, which is cheap at that size, so the app never sees a partial oversize body);
- turns any unexpected exception into the generic 500 body of `api.errors` (traceback to the log only);
- writes the access log line (method, path, status, latency: never the query string, which can hold an
  e-mail address or a search) and, for `/support/*`, the audit event with who, for whom, status, latency.
  The path goes into the audit event percent-encoded as on the wire, so `<script` typed into a URL is
  stored as `%3Cscript`.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import REQUEST_ID, RequestContext
from api.errors import error_response, internal_error_response
from desk.audit import AuditLog
from desk.errors import PayloadTooLarge

logger = logging.getLogger("api.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# RFC 3986 unreserved and sub-delims, ":" "@" "/" and "%" (already encoded stays as it is).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    ip = _parse_ip(address)
    return ip is not None and any(ip in net for net in networks)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address. X-Forwarded-For is read only when the socket peer is a trusted proxy, and then
    from the right: each trusted proxy appends the address it saw, so the first hop that is not one of ours
    is the client as our outermost proxy saw it. A malformed hop stops the walk (the hop to its right)."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    current = peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            return current
        current = str(ip)
        if not any(ip in net for net in trusted):
            return current
    return current


def audit_path(path: str) -> str:
    """The path as it would be written on the wire (percent-encoded), so no markup reaches the audit log."""
    return quote(path, safe=_PATH_SAFE, errors="backslashreplace")


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, audit: AuditLog, trusted_proxies: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.audit = audit
        self.trusted = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        peer = client[0] if client else "-"
        if self.trusted:
            forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-forwarded-for"]
            peer = client_address(peer, forwarded, self.trusted)
        ctx = RequestContext(request_id=request_id, client=peer)
        scope.setdefault("state", {})["ctx"] = ctx
        token = REQUEST_ID.set(request_id)
        status = {"code": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                response_headers = list(message.get("headers", []))
                # Error responses built by api.errors already carry it.
                if not any(name.lower() == b"x-request-id" for name, _ in response_headers):
                    response_headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = response_headers
            await send(message)

        try:
            body_receive = await self._read_body(scope, receive, headers)
            if body_receive is None:
                exc = PayloadTooLarge()
                await error_response(413, exc.code, exc.message, request_id)(scope, receive, send_wrapper)
            else:
                await self.app(scope, body_receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not status["started"]:
                await internal_error_response(request_id)(scope, receive, send_wrapper)
        finally:
            await self._after(scope, ctx, int(status["code"]))
            REQUEST_ID.reset(token)

    async def _read_body(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> Receive | None:
        """Return a receive callable replaying the whole body, or None when the body is too large."""
        if scope["method"] not in _BODY_METHODS:
            return receive
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # Client went away; let the app see the disconnect.
                pending: list[Message] = [message]
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
                break

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        return replay

    async def _after(self, scope: Scope, ctx: RequestContext, status: int) -> None:
        latency_ms = round(ctx.elapsed_ms(), 2)
        logger.info("%s %s %s %.2fms", scope["method"], audit_path(scope["path"]), status, latency_ms)
        if scope["path"].startswith("/support/"):
            fields: dict[str, Any] = {
                "actor": ctx.actor,
                "account_id": ctx.account_id,
                "role": ctx.role,
                "customer_id": ctx.customer_id,
                "route": ctx.route,
                "case_id": ctx.case_id,
                "method": scope["method"],
                "path": audit_path(scope["path"]),
                "status_code": status,
                "latency_ms": latency_ms,
                "request_id": ctx.request_id,
            }
            # File lock + database insert: off the event loop.
            await to_thread.run_sync(lambda: self.audit.record("support_request", **fields))
