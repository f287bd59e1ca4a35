"""The audit log: one hash-chained JSON line per security-relevant event, in `AUDIT_LOG_FILE` and in the
`audit_events` table.

Chain: every entry carries `seq` (previous seq + 1), `prev` (the previous entry's hash) and `hash`, the
SHA-256 of the entry's canonical JSON without `hash`. Editing a line breaks its own hash; deleting or
reordering lines breaks the next line's `prev`/`seq`; cutting lines off the end is caught by comparing
with the database copy (`verify_against_database`), whose own chain is checked too (below).

Concurrency: a thread lock serialises writers of one process and an exclusive `flock` on the file
serialises processes (several uvicorn workers): the writer reads the last line under the lock, so the
chain stays linear whoever writes. POSIX only (fcntl). Lines are flushed but not fsynced per event; the
database copy is the durable second record. In the API that copy follows within a tenth of a second, in
batches (desk/audit_rows.py): a killed process loses nothing (its lines are restored from the file), but a
power loss can take the last tenth of a second of events from both.

Entries never hold message text, tokens or passwords (callers pass identifiers and codes only), and
every string is passed through `security.redact` so e-mail addresses and card numbers cannot slip in, then
made inert: control characters removed, `< > & " '` written as HTML character references (a `<script`
from a URL or a typed username is stored as `&lt;script`), cut to MAX_FIELD_CHARS.

The database copy is checked against the same chain (`verify_database`): each row's hash is recomputed
from its columns and payload and must link to the row before, so an edited row or a deleted one (a gap in
`seq`) is found; `compare_with_file` then requires the copy to end where the file does, with the same hash
there, which (the hashes being chained) makes the whole copy equal to the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Engine, Row, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from desk.models import AuditEvent
from security.redact import redact_fields

GENESIS = "0" * 64
_TAIL_CHUNK = 8192
_COLUMNS = ("actor", "role", "customer_id", "case_id", "status_code", "request_id")
_NOT_PAYLOAD = frozenset({*_COLUMNS, "seq", "ts", "event", "prev", "hash"})
INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))
MAX_FIELD_CHARS = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# An entry in the file but not (yet) in the database younger than this is a write in flight, not a deletion.
IN_FLIGHT = timedelta(seconds=5)
_VERIFY_BATCH = 5000

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


def inert(value: Any) -> Any:
    """A field value that no log viewer, terminal or web page can take for markup or a control sequence."""
    if isinstance(value, str):
        return html.escape(_CONTROL.sub("", value), quote=True)[:MAX_FIELD_CHARS]
    if isinstance(value, dict):
        return {inert(str(k)): inert(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [inert(v) for v in value]
    return value


class RowSink(Protocol):
    """Where the database copy of each entry goes when it is not stored in the caller's thread."""

    def submit(self, entry: dict[str, Any]) -> None: ...

    def flush(self, timeout: float = ...) -> bool: ...


class AuditLog:
    def __init__(
        self, path: Path, engine: Engine | None = None, *, rows: RowSink | None = None, chain: str = ""
    ) -> None:
        """`rows`: store the database copy through this sink (desk/audit_rows.py, batched behind the file)
        instead of one insert per event in the caller's thread. `chain`: the name of this file's chain in the
        shared table (AUDIT_CHAIN; one per machine)."""
        self.path = path
        self.chain = chain
        self._engine = engine
        self._rows = rows
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event; returns the entry as written. Pass identifiers and codes, never free text."""
        clean = inert(redact_fields({k: v for k, v in fields.items() if v is not None}))
        with self._lock:
            entry = self._append(event, clean)
        if self._rows is not None:
            self._rows.submit(entry)
        else:
            self._store(entry)
        return entry

    def flush(self) -> None:
        """Before reading the database copy: wait until this process's events so far are in it."""
        if self._rows is not None:
            self._rows.flush()

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
        row = row_of(entry, self.chain)
        try:
            # A Core insert costs a third of an ORM unit of work, and this runs on every request. The
            # statement is built once (INSERT_EVENT) and gets one parameter dict, not a one-element list
            # (which would take the executemany path).
            with self._engine.begin() as conn:
                conn.execute(INSERT_EVENT, row)
        except SQLAlchemyError:
            # The file line is already written and chained; a lost database copy is reported, not fatal.
            logger.exception("audit event %s (seq %s) not stored in the database", entry["event"], entry["seq"])


def row_of(entry: dict[str, Any], chain: str = "") -> dict[str, Any]:
    """The `audit_events` row holding `entry` of the chain `chain` (`row_entry` turns it back)."""
    return {
        "chain": chain,
        "seq": entry["seq"],
        "ts": datetime.fromisoformat(entry["ts"]),
        "event": entry["event"],
        "payload": {k: v for k, v in entry.items() if k not in _NOT_PAYLOAD},
        "prev_hash": entry["prev"],
        "hash": entry["hash"],
        **{name: entry.get(name) for name in _COLUMNS},
    }


def read_line(raw: bytes) -> tuple[dict[str, Any], int] | None:
    """A file line as (entry, its seq); None when the line is not an entry with an integer seq."""
    try:
        entry = json.loads(raw)
        return entry, int(entry["seq"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def last_seq(path: Path) -> int:
    """The seq of the file's last line; 0 for a missing or empty file or an unreadable last line."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        last = _last_line(fd)
    finally:
        os.close(fd)
    read = read_line(last) if last else None
    return read[1] if read is not None else 0


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None
    last_seq: int = 0
    last_hash: str = GENESIS
    # The first entry (seq) found edited, missing or out of place; None when the chain holds.
    broken_seq: int | None = None


def verify_file(path: Path) -> VerifyResult:
    """Check every line's hash and its link to the line before."""
    if not path.exists():
        return VerifyResult(ok=False, entries=0, problem=f"{path} does not exist")
    prev_hash, seq, count = GENESIS, 0, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                return VerifyResult(False, count, "empty line", number, seq, prev_hash, seq + 1)
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                return VerifyResult(False, count, "line is not valid JSON", number, seq, prev_hash, seq + 1)
            if entry.get("hash") != entry_hash(entry):
                return VerifyResult(
                    False, count, "line was edited (hash mismatch)", number, seq, prev_hash, _seq_of(entry, seq + 1)
                )
            if entry.get("prev") != prev_hash or entry.get("seq") != seq + 1:
                return VerifyResult(
                    False,
                    count,
                    "chain broken (a line before this one was removed or moved)",
                    number,
                    seq,
                    prev_hash,
                    seq + 1,
                )
            prev_hash, seq, count = entry["hash"], entry["seq"], count + 1
    return VerifyResult(True, count, None, None, seq, prev_hash)


def _seq_of(entry: dict[str, Any], default: int) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) else default


def row_entry(row: Row[Any] | AuditEvent) -> dict[str, Any]:
    """The chained entry a database row stands for (what `AuditLog._append` hashed)."""
    entry: dict[str, Any] = {"seq": row.seq, "ts": row.ts.isoformat(timespec="microseconds"), "event": row.event}
    for name in _COLUMNS:
        value = getattr(row, name)
        if value is not None:
            entry[name] = value
    entry.update(row.payload or {})
    entry["prev"] = row.prev_hash
    return entry


def _rows(session: Session, chain: str) -> Iterator[Row[Any]]:
    columns = [getattr(AuditEvent, n) for n in ("seq", "ts", "event", *_COLUMNS, "payload", "prev_hash", "hash")]
    query = (
        select(*columns)
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.seq, AuditEvent.id)
        .execution_options(yield_per=_VERIFY_BATCH)
    )
    yield from session.execute(query)


def verify_database(session: Session, chain: str = "") -> VerifyResult:
    """Recompute every row's hash of one chain and check its link to the row before (gaps in `seq` are deleted
    rows). Each audit file is a chain of its own in the table (AUDIT_CHAIN)."""
    prev_hash, seq, count = GENESIS, 0, 0
    for row in _rows(session, chain):
        if row.seq != seq + 1:
            if row.seq <= seq:
                problem = f"the database holds seq {row.seq} twice or out of order"
                return VerifyResult(False, count, problem, None, seq, prev_hash, row.seq)
            missing = f"{seq + 1}" if row.seq == seq + 2 else f"{seq + 1} to {row.seq - 1}"
            problem = f"entries seq {missing} are missing from the database (deleted)"
            return VerifyResult(False, count, problem, None, seq, prev_hash, seq + 1)
        entry = row_entry(row)
        if row.hash != entry_hash(entry):
            problem = f"the database row seq {row.seq} was edited (hash mismatch)"
            return VerifyResult(False, count, problem, None, seq, prev_hash, row.seq)
        if row.prev_hash != prev_hash:
            problem = f"the database row seq {row.seq} does not link to the row before (chain broken)"
            return VerifyResult(False, count, problem, None, seq, prev_hash, row.seq)
        prev_hash, seq, count = row.hash, row.seq, count + 1
    return VerifyResult(True, count, None, None, seq, prev_hash)


def lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's lines, last first (read in chunks from the end)."""
    with path.open("rb") as handle:
        pos = handle.seek(0, os.SEEK_END)
        rest = b""
        while pos > 0:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            handle.seek(pos)
            data = handle.read(step) + rest
            lines = data.split(b"\n")
            rest = lines[0]
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line
        if rest.strip():
            yield rest


def compare_with_file(result: VerifyResult, path: Path, *, now: datetime | None = None) -> VerifyResult:
    """Given a verified database chain: the file must hold the same hash at the database's last seq, and
    nothing after it except writes still in flight (younger than IN_FLIGHT)."""
    if not result.ok or not path.exists():
        return result
    now = now or datetime.now(UTC)
    for raw in lines_backwards(path):
        read = read_line(raw)
        if read is None:
            return replace(result, ok=False, problem="the audit file has an unreadable line", broken_seq=None)
        entry, seq = read
        if seq > result.last_seq:
            try:
                age = now - datetime.fromisoformat(str(entry.get("ts")))
            except ValueError:
                age = IN_FLIGHT
            if age >= IN_FLIGHT:
                problem = (
                    f"the file holds entries up to seq {seq}, the database copy ends at seq {result.last_seq}: "
                    "rows were removed from the end of the database (or never stored)"
                )
                return replace(result, ok=False, problem=problem, broken_seq=result.last_seq + 1)
            continue
        if seq == result.last_seq and entry.get("hash") != result.last_hash:
            problem = f"the database row seq {seq} differs from the file (the copy was rewritten)"
            return replace(result, ok=False, problem=problem, broken_seq=seq)
        if seq < result.last_seq:
            problem = f"the database holds entries up to seq {result.last_seq}, the file ends at seq {seq}"
            return replace(result, ok=False, problem=problem, broken_seq=seq + 1)
        return result
    if result.last_seq:
        problem = f"the audit file is empty but the database holds {result.entries} entries"
        return replace(result, ok=False, problem=problem, broken_seq=1)
    return result


def verify_against_database(
    result: VerifyResult, session: Session, path: Path | None = None, chain: str = ""
) -> VerifyResult:
    """After `verify_file`: the database copy of the file's chain holds, and it ends where the file ends, with
    the same hash (lines cut off the end of the file, and rows edited or deleted in the database, are found)."""
    if not result.ok:
        return result
    stored = verify_database(session, chain)
    if not stored.ok:
        return replace(stored, line=None)
    if path is not None:
        stored = compare_with_file(stored, path)
        if not stored.ok:
            return replace(stored, entries=result.entries)
    elif stored.last_seq != result.last_seq or stored.last_hash != result.last_hash:
        return replace(result, ok=False, problem="the database copy does not end where the file ends")
    return result
