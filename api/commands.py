"""Sub-commands of `support-desk` that belong to the API: serve, run (API + web form), users create /
disable / enable, audit verify, db upgrade. Each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from types import FrameType

import httpx

from desk.settings import Settings, get_settings

logger = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 180.0


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def db_upgrade(args: argparse.Namespace) -> int:
    from desk.db import upgrade_database

    settings = get_settings()
    upgrade_database(settings.database_url)
    _out("database schema is up to date")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from desk.db import upgrade_database

    settings = get_settings()
    if args.workers > 1 and settings.rate_limit_storage_uri.startswith("memory://"):
        # memory:// counts in each process: with N workers every customer would get N times its limit.
        _err(
            f"--workers {args.workers} needs limits shared between the processes: set "
            "RATE_LIMIT_STORAGE_URI=redis://HOST:6379/0 (memory:// limits are per process)"
        )
        return 2
    # Migrate once here, in the parent, so several workers never race on the schema.
    upgrade_database(settings.database_url)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        # uvicorn's access log prints every request line with its query string (an e-mail address in a
        # search, say) to the console; the desk writes its own, without query strings (api/middleware.py).
        access_log=False,
        # The client address comes from TRUSTED_PROXIES in our middleware, not from uvicorn's own
        # X-Forwarded-For handling (which trusts 127.0.0.1 by default).
        proxy_headers=False,
    )
    return 0


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(url).status_code == 200:
                    return True
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.25)
    return False


def run_all(args: argparse.Namespace) -> int:
    """Start the API and the web form as child processes; forward SIGINT/SIGTERM; stop both together."""
    settings = get_settings()
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    ui_port = args.ui_port or settings.web_port
    cli = [sys.executable, "-m", "cli.main"]
    api = subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)])  # noqa: S603 - our own CLI
    ui = subprocess.Popen([*cli, "ui", "--port", str(ui_port)])  # noqa: S603
    children: tuple[subprocess.Popen[bytes], ...] = (api, ui)
    if settings.celery_broker_url:
        # A broker is configured: the crews run on a worker (README, "Workers and jobs"); start one beside.
        children = (*children, subprocess.Popen([*cli, "worker"]))  # noqa: S603

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if _wait_ready(f"http://{host}:{port}/readyz", api, READY_TIMEOUT_SECONDS):
            _out(f"API ready:      http://{host}:{port}  (docs: http://{host}:{port}/docs)")
            _out(f"Web form:       http://localhost:{ui_port}")
            if settings.celery_broker_url:
                _out("Crew jobs:      a Celery worker on CELERY_BROKER_URL")
        else:
            _err("the API did not become ready; see the log above")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [child.returncode for child in children]
    return next((code for code in codes if code not in (0, -signal.SIGTERM, -signal.SIGINT)), 0)


def users_create(args: argparse.Namespace) -> int:
    from desk.accounts import create_account
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
    except AppError as exc:
        _err(f"not created: {exc.message}")
        return 1
    finally:
        engine.dispose()
    _out(f"created account {account.username!r} (id {account.id}, role {account.role})")
    return 0


def _set_active(args: argparse.Namespace, active: bool, settings: Settings | None) -> int:
    import getpass

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
                AuditLog(settings.audit_log_file, engine).record(
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
    result = verify_file(path)
    checked_db = False
    if result.ok:
        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session:
                result = verify_against_database(result, session, path)
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
