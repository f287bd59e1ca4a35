"""The audit log: one hash-chained JSON line per security-relevant event, in `AUDIT_LOG_FILE` and in the
`audit_events` table.

Chain: every entry carries `seq` (previous seq + 1), `prev` (the previous entry's hash) and `hash`, the
SHA-256 of the entry's canonical JSON without `hash`. Editing a line breaks its own hash; deleting or
reordering lines breaks the next line's `prev`/`seq`; cutting lines off the end is caught by comparing
with the database copy (`verify_against_database`).

Concurrency: a thread lock serialises writers of one process and an exclusive `flock` on the file
serialises processes (several uvicorn workers): the writer reads the last line under the lock, so the
chain stays linear whoever writes. POSIX only (fcntl). Lines are flushed but not fsynced per event; the
database copy is the durable second record.

Entries never hold message text, tokens or passwords (callers pass identifiers and codes only), and
every string is passed through `security.redact` so e-mail addresses and card numbers cannot slip in.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from desk.models import AuditEvent
from security.redact import redact_fields

GENESIS = "0" * 64
_TAIL_CHUNK = 8192
_COLUMNS = ("actor", "role", "customer_id", "case_id", "status_code", "request_id")
_NOT_PAYLOAD = frozenset({*_COLUMNS, "seq", "ts", "event", "prev", "hash"})
INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))

logger = logging.getLogger(__name__)


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _last_line(fd: int) -> bytes:
    size = os.lseek(fd, 0, os.SEEK_END)
    data = b""
    pos = size
    while pos > 0:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return data.rstrip(b"\n")


class AuditLog:
    def __init__(self, path: Path, engine: Engine | None = None) -> None:
        self.path = path
        self._engine = engine
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event; returns the entry as written. Pass identifiers and codes, never free text."""
        clean = redact_fields({k: v for k, v in fields.items() if v is not None})
        with self._lock:
            entry = self._append(event, clean)
        self._store(entry)
        return entry

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
        try:
            return os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            # The directory is made on first need (or if removed since), not by a mkdir call per event.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o600)

    def _append(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_line(fd)
            if last:
                previous = json.loads(last)
                prev_hash, seq = str(previous["hash"]), int(previous["seq"]) + 1
            else:
                prev_hash, seq = GENESIS, 1
            entry: dict[str, Any] = {
                "seq": seq,
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "event": event,
                **fields,
                "prev": prev_hash,
            }
            entry["hash"] = entry_hash(entry)
            os.write(fd, _canonical(entry) + b"\n")
        finally:
            # Closing the descriptor also releases the flock.
            os.close(fd)
        return entry

    def _store(self, entry: dict[str, Any]) -> None:
        if self._engine is None:
            return
        row = {
            "seq": entry["seq"],
            "ts": datetime.fromisoformat(entry["ts"]),
            "event": entry["event"],
            "payload": {k: v for k, v in entry.items() if k not in _NOT_PAYLOAD},
            "prev_hash": entry["prev"],
            "hash": entry["hash"],
            **{name: entry.get(name) for name in _COLUMNS},
        }
        try:
            # A Core insert costs a third of an ORM unit of work, and this runs on every request. The
            # statement is built once (INSERT_EVENT) and gets one parameter dict, not a one-element list
            # (which would take the executemany path).
            with self._engine.begin() as conn:
                conn.execute(INSERT_EVENT, row)
        except SQLAlchemyError:
            # The file line is already written and chained; a lost database copy is reported, not fatal.
            logger.exception("audit event %s (seq %s) not stored in the database", entry["event"], entry["seq"])


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None
    last_seq: int = 0
    last_hash: str = GENESIS


def verify_file(path: Path) -> VerifyResult:
    """Check every line's hash and its link to the line before."""
    if not path.exists():
        return VerifyResult(ok=False, entries=0, problem=f"{path} does not exist")
    prev_hash, seq, count = GENESIS, 0, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                return VerifyResult(False, count, "empty line", number, seq, prev_hash)
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                return VerifyResult(False, count, "line is not valid JSON", number, seq, prev_hash)
            if entry.get("hash") != entry_hash(entry):
                return VerifyResult(False, count, "line was edited (hash mismatch)", number, seq, prev_hash)
            if entry.get("prev") != prev_hash or entry.get("seq") != seq + 1:
                return VerifyResult(
                    False, count, "chain broken (a line before this one was removed or moved)", number, seq, prev_hash
                )
            prev_hash, seq, count = entry["hash"], entry["seq"], count + 1
    return VerifyResult(True, count, None, None, seq, prev_hash)


def verify_against_database(result: VerifyResult, session: Session) -> VerifyResult:
    """Detect lines cut off the end of the file: the database must not know a later entry than the file."""
    if not result.ok:
        return result
    max_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if max_seq > result.last_seq:
        return VerifyResult(
            False,
            result.entries,
            f"the database holds entries up to seq {max_seq}, the file "
            f"ends at seq {result.last_seq}: lines were removed from the end",
            None,
            result.last_seq,
            result.last_hash,
        )
    if result.last_seq:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == result.last_seq))
        if stored is not None and stored != result.last_hash:
            return VerifyResult(
                False,
                result.entries,
                "the last line differs from the database copy",
                None,
                result.last_seq,
                result.last_hash,
            )
    return result
