"""The Alembic migrations produce exactly the schema the models describe, and downgrade cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import desk.jobs.models
import desk.oncall.models  # noqa: F401 - registers the on-call tables on Base, as desk/migrations/env.py does
from desk.db import alembic_config, upgrade_database
from desk.models import Base

ONCALL_TABLES = {"oncall_pages", "oncall_cases", "jobs", "idempotency_keys"}


def test_migrations_match_models_and_downgrade(tmp_path: Path) -> None:
    # Without the on-call models on Base, compare_metadata would not see (or would want to drop) their tables.
    assert set(Base.metadata.tables) >= ONCALL_TABLES
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert set(inspect(engine).get_table_names()) >= ONCALL_TABLES
    command.downgrade(alembic_config(url), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade_database(url)  # and up again
    engine.dispose()


ENV_TABLES_SCRIPT = """
import json
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from desk.db import alembic_config

config = alembic_config("sqlite://")
script = ScriptDirectory.from_config(config)
seen = []

def capture(revision, context):
    seen.extend(context.opts["target_metadata"].tables)
    return []

with EnvironmentContext(config, script, fn=capture, as_sql=True):
    script.run_env()
print(json.dumps(sorted(seen)))
"""


def test_migration_env_targets_the_oncall_tables_on_its_own() -> None:
    # A fresh interpreter that imports nothing but desk.db: what `alembic revision --autogenerate` would see.
    done = subprocess.run(
        [sys.executable, "-c", ENV_TABLES_SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    assert set(json.loads(done.stdout.strip().splitlines()[-1])) >= ONCALL_TABLES


def test_head_is_read_from_the_files_like_alembic_and_an_up_to_date_schema_skips_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.script import ScriptDirectory

    from desk import db

    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert db.head_revisions() == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert not db.is_at_head(url)  # no schema yet
    upgrade_database(url)
    assert db.is_at_head(url)
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: pytest.fail("alembic ran on an up-to-date schema"))
    upgrade_database(url)
    command.downgrade(alembic_config(url), "0001")
    assert not db.is_at_head(url)


def test_cases_stored_before_last_author_existed_get_it_from_their_messages(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "0008")
    engine = create_engine(url)
    with engine.begin() as conn:
        for case_id, authors in (("c1", ["customer", "agent"]), ("c2", ["customer", "agent", "customer"])):
            conn.execute(
                text(
                    "INSERT INTO cases (id, customer_id, requested_route, status, emergency, auto_emergency, "
                    "sanitised, degraded, injection_flagged, created_at, updated_at) VALUES "
                    "(:id, 'cust', 'auto', 'answered', 0, 0, 0, 0, 0, '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
                ),
                {"id": case_id},
            )
            for author in authors:
                conn.execute(
                    text(
                        "INSERT INTO case_messages (case_id, author, text, citations, created_at) "
                        "VALUES (:c, :a, 'x', '[]', '2026-12-01 00:00:00')"
                    ),
                    {"c": case_id, "a": author},
                )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT id, last_author FROM cases ORDER BY id")).all())
    assert found == {"c1": "agent", "c2": "customer"}
    engine.dispose()
