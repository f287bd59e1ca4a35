"""Engine, sessions and migrations.

Migrations are Alembic's (`desk/migrations/`). `support-desk db upgrade` runs them, and `support-desk serve`
/ `support-desk run` run them once in the parent process before any worker starts, so several workers never
race on the schema. `create_app` itself never touches the schema.
"""

from __future__ import annotations

import ast
import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

    from desk.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# `revision: str = "0002"` / `down_revision: str | None = "0001"` in each file under migrations/versions.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _sqlite_pragmas(busy_timeout_seconds: float, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer work at once (several threads and processes); NORMAL sync skips an
    # fsync per commit, which is safe in WAL mode (a crash loses at most the last commits, never corrupts).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
    cursor.close()


def make_engine(
    url: str, *, pool_size: int = 20, max_overflow: int | None = None, busy_timeout_seconds: float = 5.0
) -> Engine:
    """`max_overflow` None: as many again as `pool_size` (PostgreSQL; SQLite opens a connection per thread)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds})
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_seconds))
        return engine
    # Sessions hold a connection only while a transaction is open (never while the crew runs), so a
    # modest pool serves many crew threads.
    overflow = pool_size if max_overflow is None else max_overflow
    return create_engine(url, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=True)


def process_engine(settings: Settings, needed: int) -> Engine:
    """The engine of a long-running process (API, worker) that runs `needed` database users at once; the
    operator's DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW win."""
    size, overflow = settings.database_pool(needed)
    return make_engine(
        settings.database_url,
        pool_size=size,
        max_overflow=overflow,
        busy_timeout_seconds=settings.database_busy_timeout_seconds,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after commit without a new query (and a new connection).
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> bool:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return True


def alembic_config(url: str) -> Config:
    # Alembic is imported only where migrations run (`serve`'s parent, `db upgrade`, tests), not by every
    # process that builds the app: it costs ~0.2 s of CPU at start.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # `%` is Alembic's interpolation character; URLs may contain it (encoded passwords, options).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    """The revisions no other migration builds on (`alembic heads`), read from the files without Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        values = {name: ast.literal_eval(value) for name, value in _REVISION_LINE.findall(path.read_text())}
        revisions.add(str(values["revision"]))
        down = values.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return revisions - parents


def is_at_head(url: str) -> bool:
    """True when the database's Alembic version is the head; False when unsure (then Alembic decides)."""
    try:
        heads = head_revisions()
    except (OSError, KeyError, ValueError, SyntaxError):
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        return False  # no database or no version table yet
    finally:
        engine.dispose()
    return bool(heads) and current == heads


def upgrade_database(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # Every `serve` start migrates; an up-to-date schema (the usual case) is recognised without importing
    # Alembic and loading its environment (~0.25 s of CPU on the way to /readyz).
    if revision == "head" and is_at_head(url):
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)
