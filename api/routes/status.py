"""`/support/status`: per-agent activity and security counters, for staff."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep, StaffUser
from api.schemas import StatusOut
from desk.status import desk_status

router = APIRouter(prefix="/support", tags=["status"])


@router.get("/status", response_model=StatusOut)
def support_status(user: StaffUser, session: SessionDep) -> StatusOut:
    """Interactions and latency per agent, routing counts, degraded answers, recent rejections."""
    return StatusOut.model_validate(desk_status(session), from_attributes=True)
