"""Accounts: creation, login checks, and disabling (revocation) and enabling."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.errors import Conflict, InputRejected, NotFound
from desk.models import Account, Role, utcnow
from security.passwords import hash_password, verify_password
from security.sanitize import is_valid_customer_id


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    account_id: int
    username: str
    role: Role
    customer_id: str | None
    token_version: int = 0


def principal_of(account: Account) -> Principal:
    return Principal(account.id, account.username, Role(account.role), account.customer_id, account.token_version)


def active_principal(session: Session, username: str) -> Principal | None:
    """The caller behind a token, if the account still exists and is active (a light column query:
    this runs on every authenticated request)."""
    row = session.execute(
        select(Account.id, Account.username, Account.role, Account.customer_id, Account.token_version).where(
            Account.username == username, Account.is_active.is_(True)
        )
    ).first()
    if row is None:
        return None
    return Principal(row.id, row.username, Role(row.role), row.customer_id, row.token_version)


def find_account(session: Session, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.username == username))


def create_account(session: Session, *, username: str, password: str, role: str, customer_id: str | None) -> Account:
    role_value = Role(role)
    if role_value is Role.CUSTOMER and not customer_id:
        raise InputRejected("A customer account needs a customer id.", field="customer_id")
    if role_value is not Role.CUSTOMER and customer_id:
        raise InputRejected("Only customer accounts carry a customer id.", field="customer_id")
    if customer_id is not None and not is_valid_customer_id(customer_id):
        raise InputRejected("The customer id has an invalid format.", field="customer_id")
    if find_account(session, username) is not None:
        raise Conflict("An account with this username already exists.", code="username_taken")
    account = Account(
        username=username, password_hash=hash_password(password), role=role_value.value, customer_id=customer_id
    )
    session.add(account)
    session.commit()
    return account


def authenticate(session: Session, username: str, password: str) -> Account | None:
    """The account when username and password match; None otherwise (same cost either way)."""
    account = find_account(session, username)
    if account is None or not account.is_active:
        verify_password(password, None)
        return None
    return account if verify_password(password, account.password_hash) else None


@dataclass(frozen=True)
class Login:
    """The outcome of a login attempt. `known` says whether the username names an account (active or not),
    so the audit line can name it; an unknown username may be a mistyped password and is never logged."""

    account: Account | None
    known: bool


def attempt_login(session: Session, username: str, password: str) -> Login:
    """As `authenticate`, and whether the username exists (same cost either way)."""
    account = find_account(session, username)
    if account is None or not account.is_active:
        verify_password(password, None)
        return Login(None, account is not None)
    return Login(account if verify_password(password, account.password_hash) else None, True)


def set_active(session: Session, username: str, active: bool) -> tuple[Account, bool]:
    """Disable or enable an account; returns it and whether anything changed.

    Disabling bumps `token_version`, so every token issued before is refused from then on (each worker reads
    the account again within PRINCIPAL_CACHE_SECONDS), and stays refused after the account is enabled again.
    """
    account = find_account(session, username)
    if account is None:
        raise NotFound("No account with this username.", code="account_not_found")
    if account.is_active == active:
        return account, False
    account.is_active = active
    if active:
        account.disabled_at = None
    else:
        account.disabled_at = utcnow()
        account.token_version = (account.token_version or 0) + 1
    session.commit()
    return account, True
