"""One HTTP attempt of one page: JSON body, HMAC signature, idempotency key. No retries here (the worker
owns the schedule), no redirects (a page goes to the configured URL or fails), no response body kept."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from desk.oncall.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)
USER_AGENT = "support-desk-oncall/1"


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    # A fixed short code for the outbox and the audit log, never the exception text (it may hold the URL).
    error: str | None = None


class WebhookSender:
    """Posts pages with one pooled `httpx.Client` (thread-safe), so each attempt reuses a connection."""

    def __init__(self, secret: str, timeout_seconds: float, transport: httpx.BaseTransport | None = None) -> None:
        self._secret = secret
        self._http = httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, transport=transport, headers={"User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        self._http.close()

    def send(self, url: str, payload: dict[str, Any], *, idempotency_key: str) -> Outcome:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key,
            "X-SupportDesk-Event": str(payload.get("event", "oncall.page")),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = signature_header(self._secret, int(time.time()), body)
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(False, error="timeout")
        except httpx.ConnectError:
            return Outcome(False, error="connect_error")
        except httpx.HTTPError as exc:
            logger.warning("page %s: transport error %s", idempotency_key, type(exc).__name__)
            return Outcome(False, error=f"transport_{type(exc).__name__}"[:64])
        if response.is_success:
            return Outcome(True, status_code=response.status_code)
        return Outcome(False, status_code=response.status_code, error=f"http_{response.status_code}")
