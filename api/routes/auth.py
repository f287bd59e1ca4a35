"""`/auth/token`: OAuth2 password flow -> a short-lived JWT."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.context import RequestContext
from api.deps import AuditDep, ContextDep, LimitsDep, SessionDep, SettingsDep
from api.openapi import error_responses
from api.schemas import TokenOut
from api.validation import PasswordForm
from desk.accounts import attempt_login, find_account
from desk.errors import AppError, AuthenticationFailed
from desk.settings import Settings
from security.pseudonym import pseudonym
from security.tokens import create_access_token

router = APIRouter(prefix="/auth", tags=["auth"])


def who_tried(username: str, known: bool, settings: Settings) -> dict[str, Any]:
    """Audit fields naming the login's username: the name of an existing account as it is; anything else
    (perhaps a password typed into the wrong field) only as a keyed pseudonym and its length."""
    if known:
        return {"actor": username}
    key = settings.secret_key.get_secret_value()
    return {
        "actor": "unknown",
        "username_hash": pseudonym(username, key=key, purpose="login"),
        "username_length": len(username),
    }


@router.post("/token", response_model=TokenOut, responses=error_responses(401, 422, 429, 503))
def login(
    form: Annotated[PasswordForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limits: LimitsDep,
    audit: AuditDep,
    ctx: ContextDep,
) -> TokenOut:
    """Exchange username and password for a bearer token. Failed attempts are limited per username and
    client address, per username and per address (429 with Retry-After)."""
    try:
        limits.check_login(form.username, ctx.client)
    except AppError:
        known = find_account(session, form.username) is not None
        audit.record(
            "login_rate_limited",
            **who_tried(form.username, known, settings),
            client=ctx.client,
            request_id=ctx.request_id,
        )
        raise
    attempt = attempt_login(session, form.username, form.password)
    account = attempt.account
    if account is None:
        _failed(form.username, attempt.known, settings, limits, audit, ctx)
        # Same answer for an unknown user and a wrong password.
        raise AuthenticationFailed("Incorrect username or password.", code="invalid_credentials")
    token, lifetime = create_access_token(
        subject=account.username,
        role=account.role,
        customer_id=account.customer_id,
        secret=settings.secret_key.get_secret_value(),
        algorithm=settings.algorithm,
        expires_minutes=settings.access_token_expire_minutes,
        version=account.token_version,
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


def _failed(
    username: str, known: bool, settings: Settings, limits: LimitsDep, audit: AuditDep, ctx: RequestContext
) -> None:
    audit.record(
        "login_failed",
        **who_tried(username, known, settings),
        client=ctx.client,
        status_code=401,
        request_id=ctx.request_id,
    )
    limits.count_login_failure(username, ctx.client)
