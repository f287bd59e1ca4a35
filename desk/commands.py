"""Sub-commands of `support-desk` that act on the desk's storage: users create / disable / enable, audit
verify, db upgrade. Each takes the parsed arguments and returns an exit code; what they change is audited
like the same action through the API."""

from __future__ import annotations

import argparse
import getpass
import sys

from desk.console import err as _err
from desk.console import out as _out
from desk.settings import Settings, get_settings


def db_upgrade(args: argparse.Namespace) -> int:
    from desk.db import upgrade_database

    settings = get_settings()
    upgrade_database(settings.database_url)
    _out("database schema is up to date")
    return 0


def users_create(args: argparse.Namespace) -> int:
    from desk.accounts import create_account
    from desk.audit import AuditLog
    from desk.db import make_engine, make_session_factory, upgrade_database
    from desk.errors import AppError

    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        _err("the password (read from stdin) must be at least 8 characters")
        return 2
    settings = get_settings()
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            account = create_account(
                session, username=args.username, password=password, role=args.role, customer_id=args.customer_id
            )
        AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain).record(
            "account_created",
            actor=f"cli:{getpass.getuser()}",
            target_account_id=account.id,
            target_role=account.role,
            customer_id=account.customer_id,
            via="cli",
        )
    except AppError as exc:
        _err(f"not created: {exc.message}")
        return 1
    finally:
        engine.dispose()
    _out(f"created account {account.username!r} (id {account.id}, role {account.role})")
    return 0


def _set_active(args: argparse.Namespace, active: bool, settings: Settings | None) -> int:
    from desk.accounts import set_active
    from desk.audit import AuditLog
    from desk.db import make_engine, make_session_factory, upgrade_database
    from desk.errors import AppError

    settings = settings or get_settings()
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            account, changed = set_active(session, args.username, active)
            if changed:
                AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain).record(
                    "account_enabled" if active else "account_disabled",
                    actor=f"cli:{getpass.getuser()}",
                    target_account_id=account.id,
                    target_username=account.username,
                    target_role=account.role,
                    via="cli",
                )
    except AppError as exc:
        _err(f"not changed: {exc.message}")
        return 1
    finally:
        engine.dispose()
    state = "enabled" if active else "disabled"
    if not changed:
        _out(f"account {account.username!r} was already {state}")
    elif active:
        _out(f"enabled account {account.username!r}; it logs in again for a new token")
    else:
        _out(f"disabled account {account.username!r}; its tokens are refused within a second on every worker")
    return 0


def users_disable(args: argparse.Namespace, settings: Settings | None = None) -> int:
    return _set_active(args, False, settings)


def users_enable(args: argparse.Namespace, settings: Settings | None = None) -> int:
    return _set_active(args, True, settings)


def audit_verify(args: argparse.Namespace, settings: Settings | None = None) -> int:
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from desk.audit import verify_against_database, verify_file
    from desk.db import make_engine, make_session_factory

    settings = settings or get_settings()
    path = Path(args.file) if args.file else settings.audit_log_file
    chain = getattr(args, "chain", None)
    chain = settings.audit_chain if chain is None else chain
    if not path.exists() and _database_audit_rows(settings) == 0:
        _out("OK: no entries yet (no audit file and no audit rows in the database)")
        return 0
    result = verify_file(path)
    checked_db = False
    if result.ok:
        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session:
                result = verify_against_database(result, session, path, chain)
                checked_db = True
        except SQLAlchemyError as exc:
            # No schema or no server: the file's own chain was still checked; say so in one line.
            _err(f"database not checked ({type(exc).__name__}); run with the DATABASE_URL the API uses")
        finally:
            engine.dispose()
    if result.ok:
        suffix = " and matches the database" if checked_db else " (database not checked)"
        _out(f"OK: {result.entries} entries, chain intact{suffix}")
        return 0
    where = f" at line {result.line}" if result.line else ""
    first = f"; first broken entry: seq {result.broken_seq}" if result.broken_seq else ""
    _err(f"FAILED{where}: {result.problem} ({result.entries} entries verified before it{first})")
    return 1


def _database_audit_rows(settings: Settings) -> int | None:
    """How many audit rows the database holds; 0 when it has no schema yet, None when it cannot be read."""
    from sqlalchemy import func, inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from desk.db import make_engine
    from desk.models import AuditEvent

    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table(AuditEvent.__tablename__):
            return 0
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
