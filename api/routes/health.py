"""Liveness and readiness probes (no authentication, no audit)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api.errors import request_id_of
from api.schemas import HealthOut, NotReadyOut, ReadyOut
from desk.crew_holder import CrewHolder
from desk.db import ping

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": NotReadyOut, "description": "Not ready: `checks` names what is not `ok`"}},
)
def readyz(request: Request) -> ReadyOut | JSONResponse:
    """Ready to serve: the database answers, the rate-limit storage answers and the crew is loaded."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        ping(state.engine)
        checks["database"] = "ok"
    except SQLAlchemyError:
        logger.warning("readiness: database unreachable", exc_info=True)
        checks["database"] = "unreachable"
    checks["rate_limit_storage"] = "ok" if state.limits.healthy() else "unreachable"
    holder: CrewHolder = state.crew_holder
    checks["crew"] = "ok" if holder.ready else ("loading" if holder.loading else "failed")
    jobs = state.jobs.health()
    if jobs.get("mode") == "celery":
        # Jobs cannot be handed off without the broker. Workers are reported, not required: jobs wait for them.
        checks["broker"] = {"ok": "ok", "unreachable": "unreachable"}.get(str(jobs.get("broker")), "unknown")
    if all(v == "ok" for v in checks.values()):
        return ReadyOut(status="ready", checks=checks, jobs=jobs)
    body = {
        "detail": "The service is not ready.",
        "code": "not_ready",
        "request_id": request_id_of(request),
        "status": "not_ready",
        "checks": checks,
        "jobs": jobs,
    }
    return JSONResponse(body, status_code=503)
