"""The audit log's database copy, written in batches behind the file: every event reaches the table, in far
fewer transactions than events, and what a dead process left only in the file is restored from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from desk.audit import IN_FLIGHT, AuditLog, verify_against_database, verify_database, verify_file
from desk.audit_rows import AuditRowWriter
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.models import AuditEvent

EVENTS = 200


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _intact(engine: Engine, path: Path) -> bool:
    with make_session_factory(engine)() as session:
        return verify_against_database(verify_file(path), session, path).ok


def _later() -> datetime:
    return datetime.now(UTC) + IN_FLIGHT * 2


def test_events_from_many_threads_reach_the_table_in_few_transactions(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    writer = AuditRowWriter(engine, path)
    log = AuditLog(path, engine, rows=writer)

    def requests(worker: int) -> None:
        for number in range(EVENTS // 4):
            log.record("support_request", actor=f"user-{worker}", status_code=200, request_id=f"r{worker}-{number}")

    threads = [threading.Thread(target=requests, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush()
    writer.close()

    assert _stored(engine) == EVENTS
    assert _intact(engine, path)
    assert len(commits) < EVENTS / 4  # one transaction per batch, not per event


def test_closing_stores_what_is_still_queued(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditRowWriter(engine, path, flush_seconds=60)  # nothing leaves the queue before close()
    log = AuditLog(path, engine, rows=writer)
    for number in range(5):
        log.record("login", actor="alice", request_id=f"r{number}")
    writer.close()
    assert _stored(engine) == 5


def test_lines_a_dead_process_left_only_in_the_file_are_restored(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    live = AuditLog(path, engine)  # another process: its rows are stored
    dead = AuditLog(path)  # a process killed before its queued rows were stored: file lines only
    live.record("login", actor="alice")
    lost = [dead.record("support_request", actor="bob", request_id=f"r{n}")["seq"] for n in range(3)]
    live.record("login", actor="carol")
    assert _stored(engine) == 2 and not _intact(engine, path)

    writer = AuditRowWriter(engine, path)
    assert writer.reconcile() == 0  # younger than IN_FLIGHT: they may still be in a live process's queue
    assert writer.reconcile(now=_later()) == len(lost)
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(AuditEvent.seq))) == [1, 2, 3, 4, 5]
    assert _intact(engine, path)
    assert writer.reconcile(now=_later()) == 0  # nothing twice


def test_two_processes_restoring_the_same_lines_store_each_once(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    dead = AuditLog(path)
    for number in range(4):
        dead.record("support_request", actor="bob", request_id=f"r{number}")
    first, second = AuditRowWriter(engine, path), AuditRowWriter(engine, path)
    assert first.reconcile(now=_later()) == 4
    # The second one looked before the first one's rows were in: it inserts them again, and the table keeps one.
    second._watermark = 0
    second.reconcile(now=_later())
    assert _stored(engine) == 4
    assert _intact(engine, path)


def test_a_batch_the_database_refused_is_restored_from_the_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditRowWriter(engine, path)
    log = AuditLog(path, engine, rows=writer)
    log.record("login", actor="alice")
    assert writer.flush()
    refuse = threading.Event()
    refuse.set()

    def refuse_inserts(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if refuse.is_set() and statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise OperationalError(statement, parameters, ConnectionError("the database is away"))

    event.listen(engine, "before_cursor_execute", refuse_inserts)
    log.record("login", actor="bob")
    log.record("login", actor="carol")
    assert writer.flush()
    assert _stored(engine) == 1
    refuse.clear()
    assert writer.reconcile(now=_later()) == 2
    writer.close()
    assert _stored(engine) == 3 and _intact(engine, path)


def test_two_machines_keep_two_chains_in_one_table(engine: Engine, tmp_path: Path) -> None:
    # Each machine writes its own file (a chain from seq 1) into the shared table: both copies verify apart.
    first = AuditLog(tmp_path / "machine-a.log", engine, chain="machine-a")
    second = AuditLog(tmp_path / "machine-b.log", engine, chain="machine-b")
    for number in range(3):
        first.record("login", actor="alice", request_id=f"a{number}")
        second.record("login", actor="bob", request_id=f"b{number}")
    with make_session_factory(engine)() as session:
        for log in (first, second):
            assert verify_against_database(verify_file(log.path), session, log.path, log.chain).ok
        assert verify_database(session, "machine-a").entries == 3
    # A third machine's restore looks at its own chain only: the others' rows do not hide its missing ones.
    third = AuditLog(tmp_path / "machine-c.log", chain="machine-c")
    for number in range(2):
        third.record("login", actor="carol", request_id=f"c{number}")
    writer = AuditRowWriter(engine, third.path, chain="machine-c")
    assert writer.reconcile(now=_later()) == 2
    assert _stored(engine) == 8
