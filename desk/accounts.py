"""Accounts: creation and login checks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.errors import Conflict, InputRejected
from desk.models import Account, Role
from security.passwords import hash_password, verify_password
from security.sanitize import is_valid_customer_id


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    account_id: int
    username: str
    role: Role
    customer_id: str | None


def principal_of(account: Account) -> Principal:
    return Principal(account.id, account.username, Role(account.role), account.customer_id)


def active_principal(session: Session, username: str) -> Principal | None:
    """The caller behind a token, if the account still exists and is active (a light column query:
    this runs on every authenticated request)."""
    row = session.execute(
        select(Account.id, Account.username, Account.role, Account.customer_id).where(
            Account.username == username, Account.is_active.is_(True)
        )
    ).first()
    return Principal(row.id, row.username, Role(row.role), row.customer_id) if row is not None else None


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
