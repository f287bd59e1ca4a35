"""FastAPI dependencies and their `Annotated` aliases; the app's objects live on `app.state`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.context import RequestContext
from desk import intake
from desk.accounts import Principal, active_principal
from desk.audit import AuditLog
from desk.crew_holder import CrewHolder
from desk.errors import AuthenticationFailed, PermissionDenied
from desk.models import Role
from desk.principals import PrincipalCache
from desk.ratelimit import RateLimits
from desk.settings import Settings
from security.tokens import InvalidToken, VerifiedTokens

# auto_error=False: a missing token goes through our AuthenticationFailed (audit + error shape).
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_context(request: Request) -> RequestContext:
    ctx: RequestContext = request.state.ctx
    return ctx


async def get_audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


async def get_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.limits
    return limits


async def get_principals(request: Request) -> PrincipalCache:
    principals: PrincipalCache = request.app.state.principals
    return principals


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Creating a Session does no I/O (it connects on first use), so it is made on the event loop; closing
    # one that still holds a connection rolls back (I/O), so only that case goes to a worker thread.
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_intake(request: Request) -> intake.Intake:
    # One dependency reading app.state, rather than one FastAPI dependency per object: each costs a
    # resolution step on every request. No Session either: the case is written on the engine's connections
    # (desk/cases.py). A crew still loading is waited for, off the event loop, then answers 503 here.
    state = request.app.state
    holder: CrewHolder = state.crew_holder
    if holder.loading:
        await run_in_threadpool(holder.wait, state.settings.crew_load_wait_seconds)
    return intake.Intake(
        state.engine,
        state.settings,
        holder.get(),
        state.limits,
        state.audit,
        state.escalation_hook,
        state.languages,
        state.articles,
        jobs=state.jobs.queue,
    )


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
LimitsDep = Annotated[RateLimits, Depends(get_limits)]
SessionDep = Annotated[Session, Depends(get_session)]
PrincipalsDep = Annotated[PrincipalCache, Depends(get_principals)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


async def get_current_user(request: Request, token: TokenDep) -> Principal:
    # The app's objects and the request context are read from app.state / request.state here rather than
    # as FastAPI dependencies: this runs on every authenticated request, and each dependency is one more
    # resolution step. A Session is made only on a principal-cache miss, so a cached caller costs no
    # session generator dependency (its exit stack and teardown) on every request.
    state = request.app.state
    audit: AuditLog = state.audit
    principals: PrincipalCache = state.principals
    tokens: VerifiedTokens = state.tokens
    ctx: RequestContext = request.state.ctx

    async def reject(reason: str) -> AuthenticationFailed:
        await run_in_threadpool(
            lambda: audit.record("token_rejected", reason=reason, client=ctx.client, request_id=ctx.request_id)
        )
        return AuthenticationFailed()

    if not token:
        raise await reject("missing")
    try:
        # HMAC check of a few hundred bytes (or none, for a token verified before): cheap enough for the loop.
        claims = tokens.decode(token)
    except InvalidToken as exc:
        raise await reject("invalid") from exc
    user = await principals.get_or_load(
        claims.sub, lambda: run_in_threadpool(_lookup, state.session_factory, claims.sub)
    )
    if user is None or user.role.value != claims.role:
        raise await reject("unknown_account")
    if claims.version != user.token_version:
        # Issued before the account was last disabled: revoked.
        raise await reject("revoked")
    ctx.actor, ctx.account_id, ctx.role = user.username, user.account_id, user.role.value
    return user


def _lookup(session_factory: sessionmaker[Session], username: str) -> Principal | None:
    # Its own short session: the connection goes back to the pool now, not at the end of the request.
    with session_factory() as session:
        return active_principal(session, username)


CurrentUser = Annotated[Principal, Depends(get_current_user)]
IntakeDep = Annotated[intake.Intake, Depends(get_intake)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise PermissionDenied()
        return user

    return check


StaffUser = Annotated[Principal, Depends(require_roles(Role.STAFF, Role.ADMIN))]
AdminUser = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
