"""`/support/cases/{id}/events`: a case's changes as Server-Sent Events, for integrators and the web app.

    curl -N -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/support/cases/$CASE/events

Events: `message` (a new message in the thread, JSON like MessageOut), `status` (`{"status": ...}`),
`progress` (the crew job's steps as they happen: `{"event": "running" | "classified" | "routed" | "answered" |
"failed", "job_id", "at", ...}`, e.g. the route once it is chosen; desk/jobs/events.py) and, for
staff only, `sla` (a near-breach or breach of one of the case's SLA clocks: `{"id", "kind", "at", "clock",
"cycle", "deadline", ...}`; every connection replays them, so clients de-duplicate by `id`).
The first events replay the thread and the current status; then the stream polls the case store every
POLL_SECONDS (so it sees writes from every API process and worker) and ends after `wait` seconds; clients
reconnect with `Last-Event-ID` (the last message id) to continue without repeats, as EventSource does.
"""

from __future__ import annotations

import asyncio
import json
import queue
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from api.deps import ContextDep, CurrentUser, SessionDep
from api.openapi import error_responses
from api.validation import CaseIdPath
from desk.case_events import CaseChanges, changes_since
from desk.cases import get_case_for
from desk.jobs.events import EventHub, JobEvent
from desk.models import Role

router = APIRouter(prefix="/support/cases", tags=["cases"])
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0


def _sse(event: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _encode(changes: CaseChanges, last_status: str | None) -> list[str]:
    out = [
        _sse(
            "message",
            {
                "author": m.author,
                "author_name": m.author_name,
                "text": m.text,
                "citations": m.citations,
                "created_at": m.created_at.isoformat(),
            },
            m.id,
        )
        for m in changes.messages
    ]
    if changes.status != last_status:
        out.append(_sse("status", {"status": changes.status}))
    out.extend(_sse("sla", {"id": n.id, "kind": n.kind, "at": n.at.isoformat(), **n.data}) for n in changes.notes)
    return out


def _progress(events: queue.Queue[JobEvent]) -> list[str]:
    """The job events that arrived since the last look (the outcome itself travels as `message`/`status`)."""
    out: list[str] = []
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return out
        data = {k: v for k, v in event.data.items() if k != "outcome"}
        out.append(_sse("progress", {"event": event.event, "job_id": event.job_id, "at": event.at, **data}))


@router.get(
    "/{case_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(401, 404, 422)},
)
def case_events(
    case_id: CaseIdPath,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    wait: Annotated[float, Query(gt=0, le=300, description="Seconds before the stream ends")] = 25.0,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**62)] = None,
) -> StreamingResponse:
    """Stream the case's new messages and status changes as Server-Sent Events."""
    case = get_case_for(session, user, case_id)  # 404 for a case this caller may not see
    ctx.case_id, ctx.customer_id = case.id, case.customer_id
    session_factory = request.app.state.session_factory

    staff = user.role in (Role.STAFF, Role.ADMIN)
    hub: EventHub = request.app.state.jobs.hub

    def poll(after: int, notes_after: int) -> CaseChanges | None:
        with session_factory() as poll_session:
            return changes_since(poll_session, case_id, after, sla_notes_after=notes_after if staff else None)

    async def stream() -> AsyncIterator[str]:
        progress = hub.subscribe(case_id)
        try:
            async for chunk in updates(progress):
                yield chunk
        finally:
            hub.unsubscribe(case_id, progress)

    async def updates(progress: queue.Queue[JobEvent]) -> AsyncIterator[str]:
        after, last_status, notes_after = last_event_id or 0, None, 0
        deadline = time.monotonic() + wait
        beat = time.monotonic() + HEARTBEAT_SECONDS
        while True:
            changes = await run_in_threadpool(poll, after, notes_after)
            if changes is None:
                return
            for chunk in _progress(progress):
                yield chunk
            for chunk in _encode(changes, last_status):
                yield chunk
            after = changes.last_message_id or after
            notes_after = changes.last_note_id or notes_after
            last_status = changes.status
            if time.monotonic() >= deadline or await request.is_disconnected():
                return
            if time.monotonic() >= beat:
                yield ": keep-alive\n\n"
                beat = time.monotonic() + HEARTBEAT_SECONDS
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
