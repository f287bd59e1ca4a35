"""`/auth/token`: OAuth2 password flow -> a short-lived JWT."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import AuditDep, ContextDep, LimitsDep, SessionDep, SettingsDep
from api.schemas import TokenOut
from api.validation import PasswordForm
from desk.accounts import authenticate
from desk.errors import AppError, AuthenticationFailed
from security.tokens import create_access_token

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def login(
    form: Annotated[PasswordForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limits: LimitsDep,
    audit: AuditDep,
    ctx: ContextDep,
) -> TokenOut:
    """Exchange username and password for a bearer token."""
    try:
        limits.hit_login(form.username, ctx.client)
    except AppError:
        audit.record("login_rate_limited", actor=form.username, client=ctx.client, request_id=ctx.request_id)
        raise
    account = authenticate(session, form.username, form.password)
    if account is None:
        # Same answer for an unknown user and a wrong password.
        audit.record("login_failed", actor=form.username, client=ctx.client, status_code=401, request_id=ctx.request_id)
        raise AuthenticationFailed("Incorrect username or password.", code="invalid_credentials")
    token, lifetime = create_access_token(
        subject=account.username,
        role=account.role,
        customer_id=account.customer_id,
        secret=settings.secret_key.get_secret_value(),
        algorithm=settings.algorithm,
        expires_minutes=settings.access_token_expire_minutes,
    )
    audit.record(
        "login_succeeded",
        actor=account.username,
        account_id=account.id,
        role=account.role,
        customer_id=account.customer_id,
        client=ctx.client,
        status_code=200,
        request_id=ctx.request_id,
    )
    return TokenOut(access_token=token, expires_in=lifetime)
