"""`support-desk customers import FILE.csv`: create or update customer records from a CSV file.

    id,name,tier,plan,locale,created
    cust-1001,Ada Lovelace,premium,business,en-GB,2024-05-01
    cust-1002,Grace Hopper,standard,,en-US,

`id` is required; the other columns are optional (an empty cell keeps the field's value). The tier must be
one of the SLA policy's (SLA_POLICY_FILE). Rows that fail validation are listed on stderr and skipped; the
rest are imported in one transaction. Exit code 0 when every row was imported, 1 when some were skipped, 2
when the file could not be read at all.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from desk.settings import get_settings


def import_customers(args: argparse.Namespace) -> int:
    from desk.audit import AuditLog
    from desk.customers import ImportFileError, import_csv
    from desk.db import make_engine, make_session_factory, upgrade_database
    from desk.sla.policy import PolicyError, policies_of

    settings = get_settings()
    try:
        tiers = policies_of(settings).tiers
    except PolicyError as exc:
        sys.stderr.write(f"customers import: {exc}\n")
        return 2
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            result = import_csv(session, Path(args.file), known_tiers=tiers)
        AuditLog(settings.audit_log_file, engine, chain=settings.audit_chain).record(
            "customers_imported",
            actor=f"cli:{getpass.getuser()}",
            via="cli",
            created=result.created,
            updated=result.updated,
            rejected=len(result.rejected),
        )
    except ImportFileError as exc:
        sys.stderr.write(f"customers import: {exc}\n")
        return 2
    finally:
        engine.dispose()
    for line, field, reason in result.rejected:
        sys.stderr.write(f"line {line}: {field or 'row'}: {reason}\n")
    if result.ignored_columns:
        sys.stderr.write(f"ignored columns: {', '.join(result.ignored_columns)}\n")
    sys.stdout.write(
        f"customers: {result.created} created, {result.updated} updated, {len(result.rejected)} rejected\n"
    )
    return 1 if result.rejected else 0
