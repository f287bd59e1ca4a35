"""CPU of one SLA sweep against a backlog: `python -m bench.sla_sweep [--cases N] [--sweeps N] [--database-url URL]`.

Seeds `--cases` cases the desk owes a response (needs-human, escalated, open and in-progress cases, each with a
customer message, a holding reply and a status change; their clocks run, none near breach yet), and
`--answered` answered cases waiting on the customer (history the sweeper must not read), into a fresh
database (a SQLite file under a temp directory, or the PostgreSQL URL given, in a throw-away schema, analysed
as autovacuum would), then runs `--sweeps` sweeps of one `SlaSweeper` at a fixed clock, as the sweeper thread
of an API process does every SLA_SWEEP_SECONDS while nothing changes. Prints the median CPU
(`time.process_time`) and wall time per sweep, the first sweep apart (it reads every case), and how many cases
the last sweep watched and read in full. A benchmark, not a test: it writes only under a temp directory or in
its own schema.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bench.pgschema import throwaway_schema
from bench.stats import median
from desk.audit import AuditLog
from desk.console import out
from desk.db import make_engine, make_session_factory, upgrade_database
from desk.models import Case, CaseEvent, CaseMessage
from desk.settings import Settings
from desk.sla.sweeper import SlaSweeper

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STATUSES = ("needs_human", "escalated", "open", "in_progress")
SECRET = "sla-sweep-benchmark-secret-0123456789-abcdefghij"  # noqa: S105 - nothing is served


def seed(settings: Settings, cases: int, answered: int = 0) -> None:
    """`cases` cases the desk owes a response, then `answered` answered ones (waiting on the customer)."""
    engine = make_engine(settings.database_url)
    case_rows, message_rows, event_rows = [], [], []
    for number in range(cases + answered):
        case_id = f"sweep-{number:06d}"
        status = STATUSES[number % len(STATUSES)] if number < cases else "answered"
        created = T0 + timedelta(seconds=number % 600)
        case_rows.append(
            {
                "id": case_id,
                "customer_id": f"cust-{number % 50}",
                "requested_route": "auto",
                "route": "billing",
                "priority": "medium",
                "status": status,
                "emergency": status == "escalated",
                "created_at": created,
                "updated_at": created + timedelta(seconds=5),
            }
        )
        if "last_author" in Case.__table__.c:  # the baseline of this column's commit has none
            case_rows[-1]["last_author"] = "agent"
        message_rows += [
            {"case_id": case_id, "author": "customer", "text": "help", "citations": [], "created_at": created},
            {
                "case_id": case_id,
                "author": "agent",
                "text": "a person will reply",
                "citations": [],
                "created_at": created + timedelta(seconds=5),
            },
        ]
        event_rows.append(
            {"case_id": case_id, "kind": "status", "at": created + timedelta(seconds=5), "data": {"to": status}}
        )
    with engine.begin() as conn:
        conn.execute(insert(Case), case_rows)
        conn.execute(insert(CaseMessage), message_rows)
        conn.execute(insert(CaseEvent), event_rows)
    if engine.dialect.name == "postgresql":
        # Statistics, as autovacuum would have gathered them on a live desk: without them the planner may pick
        # a plan no running desk would see.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(settings: Settings, sweeps: int) -> dict[str, float | int]:
    engine = make_engine(settings.database_url)
    sweeper = SlaSweeper(
        settings,
        make_session_factory(engine),
        AuditLog(settings.audit_log_file, engine),
        # 15-25 min after the cases were filed: older than any clock takes to its first threshold, so the sweeper
        # reads them (SlaPolicies.earliest_crossing), and short of the targets of the tiers seeded.
        clock=lambda: T0 + timedelta(minutes=25),
    )
    cpu, wall, read, watched = [], [], 0, 0
    for _ in range(sweeps + 1):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        report = sweeper.sweep()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
        # The baseline of this change has no `watched`: every case it watches it reads.
        read, watched = report.cases, getattr(report, "watched", report.cases)
    engine.dispose()
    return {
        "watched_cases": watched,
        "read_by_last_sweep": read,
        "first_sweep_cpu_ms": round(cpu[0], 2),
        "sweep_cpu_ms_p50": round(median(cpu[1:]), 2),
        "sweep_wall_ms_p50": round(median(wall[1:]), 2),
    }


@contextlib.contextmanager
def database(url: str | None, workdir: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{workdir / 'sweep.db'}"
        return
    with throwaway_schema(url) as schema_url:
        yield schema_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--answered", type=int, default=0, help="answered cases beside them (not watched)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sla-sweep-") as tmp, database(args.database_url, Path(tmp)) as url:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            app_env="test",
            secret_key=SECRET,
            database_url=url,
            audit_log_file=Path(tmp) / "audit.log",
            log_file=Path(tmp) / "app.log",
        )
        upgrade_database(settings.database_url)
        seed(settings, args.cases, args.answered)
        result = {"cases": args.cases, "answered": args.answered, **measure(settings, args.sweeps)}
    out(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
