"""`/admin/*`: account management (create, list, disable, enable) and the audit trail, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from api.deps import AdminUser, AuditDep, ContextDep, PrincipalsDep, SessionDep
from api.openapi import error_responses
from api.schemas import AccountIn, AccountOut, AuditEventOut, AuditPage
from api.validation import NoNulStr, Offset
from desk.accounts import create_account, set_active
from desk.audit import compare_with_file, verify_database
from desk.errors import Conflict
from desk.models import Account, AuditEvent

router = APIRouter(prefix="/admin", tags=["admin"])
UsernamePath = Annotated[str, Path(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")]


def _account_out(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        username=account.username,
        role=account.role,
        customer_id=account.customer_id,
        is_active=account.is_active,
        created_at=account.created_at,
        disabled_at=account.disabled_at,
    )


@router.post(
    "/accounts",
    response_model=AccountOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 413, 503),
)
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


@router.get("/accounts", response_model=list[AccountOut], responses=error_responses(401, 403, 503))
def list_accounts(user: AdminUser, session: SessionDep) -> list[AccountOut]:
    """All accounts."""
    return [_account_out(a) for a in session.scalars(select(Account).order_by(Account.id))]


def _set_active(
    username: str,
    active: bool,
    user: AdminUser,
    session: SessionDep,
    audit: AuditDep,
    principals: PrincipalsDep,
    ctx: ContextDep,
) -> AccountOut:
    if not active and username == user.username:
        raise Conflict("You cannot disable your own account.", code="cannot_disable_self")
    account, changed = set_active(session, username, active)
    # This worker refuses the account's tokens at once; the others within PRINCIPAL_CACHE_SECONDS.
    principals.forget(account.username)
    if changed:
        audit.record(
            "account_enabled" if active else "account_disabled",
            actor=user.username,
            role=user.role.value,
            target_account_id=account.id,
            target_username=account.username,
            target_role=account.role,
            via="api",
            request_id=ctx.request_id,
        )
    return _account_out(account)


@router.post(
    "/accounts/{username}/disable", response_model=AccountOut, responses=error_responses(401, 403, 404, 409, 503)
)
def disable_account(
    username: UsernamePath,
    user: AdminUser,
    session: SessionDep,
    audit: AuditDep,
    principals: PrincipalsDep,
    ctx: ContextDep,
) -> AccountOut:
    """Disable an account: its tokens are refused on every worker within PRINCIPAL_CACHE_SECONDS (<= 1 s), it
    cannot log in, and tokens issued before stay refused if it is enabled again. Idempotent; audited."""
    return _set_active(username, False, user, session, audit, principals, ctx)


@router.post(
    "/accounts/{username}/enable", response_model=AccountOut, responses=error_responses(401, 403, 404, 409, 503)
)
def enable_account(
    username: UsernamePath,
    user: AdminUser,
    session: SessionDep,
    audit: AuditDep,
    principals: PrincipalsDep,
    ctx: ContextDep,
) -> AccountOut:
    """Enable a disabled account (it logs in again for a new token). Idempotent; audited."""
    return _set_active(username, True, user, session, audit, principals, ctx)


@router.get("/audit", response_model=AuditPage, responses=error_responses(401, 403, 503))
def read_audit(
    user: AdminUser,
    session: SessionDep,
    audit: AuditDep,
    event: NoNulStr | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    """Audit events, newest first, with whether the database copy they come from holds: the chain of this
    machine's audit file is recomputed on every call (all its rows, not only this page) and compared with the
    file. Other machines' rows (`chain`) are checked by `support-desk audit verify` on those machines."""
    audit.flush()  # this process's latest events, in the copy before it is read
    query = select(AuditEvent)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    rows = session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset))
    items = [AuditEventOut.model_validate(r, from_attributes=True) for r in rows]
    chain = compare_with_file(verify_database(session, audit.chain), audit.path)
    return AuditPage(
        items=items,
        limit=limit,
        offset=offset,
        chain_intact=chain.ok,
        first_broken_seq=chain.broken_seq,
        chain_problem=chain.problem,
        entries_verified=chain.entries,
    )
