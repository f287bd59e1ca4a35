"""Alembic environment: the URL comes from the config that `desk.db.alembic_config` builds (or from
`DATABASE_URL` through the settings when Alembic is run by hand with `alembic -c api/alembic.ini`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

# The on-call and job tables live on the same `Base` but in their own modules: import them so `target_metadata`
# (and `alembic revision --autogenerate`) sees them whether or not anything else imported them first.
import desk.jobs.models
import desk.oncall.models  # noqa: F401
from desk.models import Base

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from desk.settings import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url())
    with engine.connect() as connection:
        # render_as_batch: SQLite can only change a table by copying it; batch mode does that.
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
