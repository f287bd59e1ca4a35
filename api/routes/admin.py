"""`/admin/*`: account management and the audit trail, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api.deps import AdminUser, AuditDep, ContextDep, SessionDep
from api.schemas import AccountIn, AccountOut, AuditEventOut
from api.validation import NoNulStr, Offset
from desk.accounts import create_account
from desk.models import Account, AuditEvent

router = APIRouter(prefix="/admin", tags=["admin"])


def _account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        username=account.username,
        role=account.role,
        customer_id=account.customer_id,
        is_active=account.is_active,
        created_at=account.created_at,
    )


@router.post("/accounts", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
def add_account(body: AccountIn, user: AdminUser, session: SessionDep, audit: AuditDep, ctx: ContextDep) -> AccountOut:
    """Create an account."""
    account = create_account(
        session, username=body.username, password=body.password, role=body.role, customer_id=body.customer_id
    )
    audit.record(
        "account_created",
        actor=user.username,
        role=user.role.value,
        target_account_id=account.id,
        target_role=account.role,
        customer_id=account.customer_id,
        request_id=ctx.request_id,
    )
    return _account_out(account)


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(user: AdminUser, session: SessionDep) -> list[AccountOut]:
    """All accounts."""
    return [_account_out(a) for a in session.scalars(select(Account).order_by(Account.id))]


@router.get("/audit", response_model=list[AuditEventOut])
def read_audit(
    user: AdminUser,
    session: SessionDep,
    event: NoNulStr | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[AuditEventOut]:
    """Audit events, newest first."""
    query = select(AuditEvent)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    rows = session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset))
    return [AuditEventOut.model_validate(r, from_attributes=True) for r in rows]
