"""`/support/status`: per-agent activity, security counters and the support metrics, for staff; and the same
metrics as CSV (`/support/metrics.csv`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import AuditDep, SessionDep, SettingsDep, StaffUser
from api.openapi import error_responses
from api.schemas import StatusOut
from desk.metrics import desk_metrics, metrics_csv
from desk.models import utcnow
from desk.sla.policy import policies_of
from desk.status import desk_status

router = APIRouter(prefix="/support", tags=["status"])
Days = Annotated[int, Query(ge=1, le=366, description="The metrics' window: the last N days (UTC), today included")]


@router.get("/status", response_model=StatusOut)
def support_status(
    user: StaffUser, session: SessionDep, settings: SettingsDep, audit: AuditDep, request: Request, days: Days = 30
) -> StatusOut:
    """Interactions and latency per agent, routing counts, degraded answers, recent rejections, where the crew
    jobs stand (`jobs`), and `metrics`: first-response and resolution times, automation, handoff and reopen
    rates and SLA % met, overall and per route, priority and day."""
    audit.flush()  # the security counters read the audit table: this process's latest events first
    out = StatusOut.model_validate(
        desk_status(session, policies=policies_of(settings), days=days), from_attributes=True
    )
    jobs = getattr(request.app.state, "jobs", None)
    out.jobs = jobs.health() if jobs is not None else None
    return out


@router.get(
    "/metrics.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(403)},
)
def metrics_export(user: StaffUser, session: SessionDep, settings: SettingsDep, days: Days = 30) -> Response:
    """The support metrics as CSV: one row per group (`dimension` all, route, priority or day, and its `key`)."""
    now = utcnow()
    body = metrics_csv(desk_metrics(session, policies_of(settings), now=now, days=days))
    filename = f"support-metrics-{now:%Y%m%d}-{days}d.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
