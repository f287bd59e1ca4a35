"""`support-desk users create`, `audit verify` and `db upgrade` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from desk.models import Account
from tests.cli_runner import run_cli


def test_db_upgrade_and_users_create(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    created = run_cli(
        tmp_path,
        "users",
        "create",
        "--username",
        "shop",
        "--role",
        "integrator",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "a-long-password" not in created.stdout + created.stderr
    again = run_cli(
        tmp_path,
        "users",
        "create",
        "--username",
        "shop",
        "--role",
        "integrator",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    no_customer = run_cli(
        tmp_path,
        "users",
        "create",
        "--username",
        "c",
        "--role",
        "customer",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert no_customer.returncode == 1
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        row = conn.execute(select(Account.role, Account.password_hash).where(Account.username == "shop")).one()
    engine.dispose()
    assert row.role == "integrator" and row.password_hash.startswith("$argon2")


def test_audit_verify_command(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "audit", "verify").returncode == 0  # a fresh desk: no entries yet
    from desk.audit import AuditLog

    log = AuditLog(tmp_path / "audit.log")
    for i in range(3):
        log.record("e", n=i)
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    ok = run_cli(tmp_path, "audit", "verify")
    assert ok.returncode == 0 and "3 entries" in ok.stdout
    lines = (tmp_path / "audit.log").read_text().splitlines()
    (tmp_path / "audit.log").write_text("\n".join([lines[0], lines[2]]) + "\n")
    broken = run_cli(tmp_path, "audit", "verify")
    assert broken.returncode == 1 and "line 2" in broken.stderr


def test_serve_refuses_several_workers_with_per_process_limits(tmp_path: Path) -> None:
    # memory:// limits are counted in each process: two workers would let every customer through twice.
    result = run_cli(
        tmp_path, "serve", "--port", "1", "--workers", "2", extra_env={"RATE_LIMIT_STORAGE_URI": "memory://"}
    )
    assert result.returncode == 2
    assert "RATE_LIMIT_STORAGE_URI=redis://" in result.stderr and "Traceback" not in result.stderr


def test_a_fresh_desk_verifies_with_no_entries_and_creating_an_account_is_audited(tmp_path: Path) -> None:
    fresh = run_cli(tmp_path, "audit", "verify")
    assert fresh.returncode == 0 and "no entries yet" in fresh.stdout, fresh.stderr
    created = run_cli(
        tmp_path, "users", "create", "--username", "sam", "--role", "staff", "--password-stdin", stdin="pw-1234567\n"
    )
    assert created.returncode == 0, created.stderr
    assert '"event":"account_created"' in (tmp_path / "audit.log").read_text()
    verified = run_cli(tmp_path, "audit", "verify")
    assert verified.returncode == 0 and "1 entries, chain intact" in verified.stdout
