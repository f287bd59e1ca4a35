"""A throw-away PostgreSQL schema for one bench run: created on entry, dropped with its tables on exit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError


class PostgresUnreachable(RuntimeError):
    pass


@contextmanager
def throwaway_schema(base_url: str) -> Iterator[str]:
    """Yield a URL whose connections use a new, empty schema of the database at `base_url`."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        engine.dispose()
        raise PostgresUnreachable(f"PostgreSQL at {base_url} is unreachable ({exc.__class__.__name__})") from exc
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
