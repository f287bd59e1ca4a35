"""The audit log's database copy written behind the file, in batches, by one thread per API process.

`AuditLog.record` writes and chains the file line before it returns; the copy of that line in `audit_events` is
only a copy (desk/audit.py), so the request need not wait for it. `AuditRowWriter` collects the rows for up to
FLUSH_SECONDS (or MAX_BATCH rows) and inserts them in one transaction: one statement and one commit for many
requests instead of a transaction each.

Nothing already in the file is lost from the copy. A batch that fails (the database away) or rows that were
queued when the process died are restored from the file: `reconcile` compares the file's newest lines with the
table and inserts the lines it lacks, once they are older than audit.IN_FLIGHT (a younger one may still sit in
another process's queue). It runs when the writer starts and every RECONCILE_SECONDS; a row written twice (by
its own writer and by a reconcile) is kept once, by the unique `hash`. The verifiers already treat a file line
younger than IN_FLIGHT without its row as a write in flight, and FLUSH_SECONDS is far below that.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from desk.audit import IN_FLIGHT, last_seq, lines_backwards, read_line, row_of
from desk.models import AuditEvent

FLUSH_SECONDS = 0.1
MAX_BATCH = 500
RECONCILE_SECONDS = 30.0
# How far back (in seq) the first reconcile of a process looks: the rows a crash can leave out are the last few
# batches of the processes that died; older gaps were restored by the processes still running.
STARTUP_WINDOW = 10_000

logger = logging.getLogger(__name__)

_FLUSH = object()
_STOP = object()


def insert_once(engine: Engine) -> Insert:
    """An insert of audit rows that skips a row already stored (same hash), for this engine's database."""
    table = cast(Table, AuditEvent.__table__)
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["hash"])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["hash"])
    raise ValueError(f"audit rows: no insert-once statement for the {engine.dialect.name} dialect")


class AuditRowWriter:
    """Stores the rows `AuditLog` hands it (`submit`) in batches; `flush` waits for what was handed so far."""

    def __init__(
        self,
        engine: Engine,
        path: Path,
        *,
        chain: str = "",
        flush_seconds: float = FLUSH_SECONDS,
        reconcile_seconds: float = RECONCILE_SECONDS,
    ) -> None:
        self._engine = engine
        self._path = path
        self._chain = chain
        self._insert = insert_once(engine)
        self._flush_seconds = flush_seconds
        self._reconcile_seconds = reconcile_seconds
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._done = threading.Condition()
        self._submitted = 0
        self._handled = 0
        # Every file line up to this seq is known to be in the table; None until the first reconcile.
        self._watermark: int | None = None

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-rows", daemon=True)
                self._thread.start()

    def submit(self, entry: dict[str, Any]) -> None:
        self.start()
        with self._done:
            self._submitted += 1
        self._queue.put(entry)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every row submitted before this call is stored (or its batch failed); False on timeout."""
        with self._done:
            target = self._submitted
            if self._handled >= target or self._thread is None:
                return True
        self._queue.put(_FLUSH)
        with self._done:
            return self._done.wait_for(lambda: self._handled >= target, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued and stop the thread (the API's shutdown)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    # --- the thread ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_reconcile = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_reconcile:
                self._reconcile_logged()
                next_reconcile = time.monotonic() + self._reconcile_seconds
            try:
                first = self._queue.get(timeout=max(0.0, next_reconcile - time.monotonic()))
            except queue.Empty:
                continue
            batch, stop = self._collect(first)
            self._write(batch)
            if stop:
                return

    def _collect(self, first: object) -> tuple[list[dict[str, Any]], bool]:
        """`first` and whatever else arrives within the flush window: (rows, whether to stop after them)."""
        batch: list[dict[str, Any]] = []
        item, deadline = first, time.monotonic() + self._flush_seconds
        while True:
            if item is _STOP:
                return batch + self._drain(), True
            if item is _FLUSH:
                return batch, False
            if isinstance(item, dict):
                batch.append(item)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return batch, False

    def _drain(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rows
            if isinstance(item, dict):
                rows.append(item)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            if batch:
                with self._engine.begin() as conn:
                    conn.execute(self._insert, [row_of(entry, self._chain) for entry in batch])
        except Exception:  # the thread must outlive any failure, or no row is stored again
            # The lines are in the file: the next reconcile (within RECONCILE_SECONDS) stores them.
            logger.exception(
                "audit: %d rows not stored in the database yet; they will be restored from the file", len(batch)
            )
        finally:
            with self._done:
                self._handled += len(batch)
                self._done.notify_all()

    def _reconcile_logged(self) -> None:
        try:
            restored = self.reconcile()
        except Exception:  # as in _write: the thread must outlive it
            logger.exception("audit: comparing the database copy with the file failed; retrying")
            return
        if restored:
            logger.warning("audit: restored %d database rows from the audit file", restored)

    def reconcile(self, now: datetime | None = None) -> int:
        """Insert the file lines above the watermark that the table lacks and that are older than IN_FLIGHT;
        returns how many were inserted."""
        newest = last_seq(self._path)
        mine = AuditEvent.chain == self._chain
        if self._watermark is None:
            with self._engine.connect() as conn:
                stored_max = conn.scalar(select(func.max(AuditEvent.seq)).where(mine)) or 0
            self._watermark = max(0, min(stored_max, newest) - STARTUP_WINDOW)
        floor = self._watermark
        if newest <= floor:
            return 0
        above = and_(mine, AuditEvent.seq > floor)
        with self._engine.connect() as conn:
            if conn.scalar(select(func.count()).where(above, AuditEvent.seq <= newest)) == newest - floor:
                self._watermark = newest
                return 0
            present = set(conn.scalars(select(AuditEvent.seq).where(above)))
        missing = [entry for entry in _entries_above(self._path, floor) if entry["seq"] not in present]
        now = now or datetime.now(UTC)
        young: list[dict[str, Any]] = []
        ready: list[dict[str, Any]] = []
        for entry in missing:
            (young if now - datetime.fromisoformat(entry["ts"]) < IN_FLIGHT else ready).append(entry)
        for start in range(0, len(ready), MAX_BATCH):
            with self._engine.begin() as conn:
                conn.execute(self._insert, [row_of(entry, self._chain) for entry in ready[start : start + MAX_BATCH]])
        self._watermark = min(entry["seq"] for entry in young) - 1 if young else newest
        return len(ready)


def _entries_above(path: Path, floor: int) -> Sequence[dict[str, Any]]:
    """The file's entries with seq above `floor` (read from the end). Unreadable lines are the verifier's
    business: they are skipped here."""
    entries: list[dict[str, Any]] = []
    for raw in lines_backwards(path):
        read = read_line(raw)
        if read is None:
            continue
        entry, seq = read
        if seq <= floor:
            break
        entries.append(entry)
    return entries
