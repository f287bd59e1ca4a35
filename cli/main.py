"""`support-desk`: the one console command.

Argument parsing lives here; each sub-command's work lives in the module that owns it and is imported
only when that sub-command runs, so `support-desk eval` never pays for uvicorn and `support-desk serve`
never pays for Streamlit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# sub-command -> "module:function"; the function takes the parsed arguments and returns an exit code.
HANDLERS: dict[str, str] = {
    "ask": "desk.crew_commands:ask",
    "eval": "desk.crew_commands:evaluate_command",
    "serve": "api.commands:serve",
    "ui": "web_interface.commands:ui",
    "run": "api.commands:run_all",
    "users create": "desk.commands:users_create",
    "users disable": "desk.commands:users_disable",
    "users enable": "desk.commands:users_enable",
    "audit verify": "desk.commands:audit_verify",
    "db upgrade": "desk.commands:db_upgrade",
    "customers import": "desk.customer_commands:import_customers",
    "worker": "desk.jobs.commands:worker",
    "bench": "bench.commands:bench",
    "eval-guard": "desk.guard_commands:eval_guard",
}

ROUTE_CHOICES = ("auto", "billing", "technical", "escalation", "complex")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="support-desk", description="Multi-agent customer-support desk.")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one message with the crew, in this process")
    ask.add_argument("message")
    ask.add_argument("--route", choices=ROUTE_CHOICES, default="auto")
    ask.add_argument("--emergency", action="store_true", help="treat as an emergency (escalation route)")
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON")

    ev = sub.add_parser("eval", help="measure the routing step on a labelled CSV")
    ev.add_argument("file")
    ev.add_argument("--text-col", default="text")
    ev.add_argument("--label-col", default="label")
    ev.add_argument("--limit", type=int, default=0, help="only the first N rows (0 = all)")
    ev.add_argument("--json", action="store_true")

    guard = sub.add_parser("eval-guard", help="measure the prompt-injection detector (recall, false positives, F1)")
    guard.add_argument("file", nargs="?", default=None, help="CSV file (a label column of 1/0; none = all benign)")
    guard.add_argument("--text-col", default="text")
    guard.add_argument("--label-col", default="label")
    guard.add_argument("--holdout", action="store_true", help="also measure our held-out examples")
    guard.add_argument("--threshold", type=float, default=None, help="override the decision threshold")
    guard.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="start the API (uvicorn)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)

    worker = sub.add_parser("worker", help="run crew jobs and on-call pages from the broker (Celery)")
    worker.add_argument("--concurrency", type=int, default=None, help="processes (prefork) or threads")
    worker.add_argument("--queues", default=None, help="comma-separated: crew, paging (default both)")
    worker.add_argument("--pool", choices=("prefork", "threads"), default="prefork")
    worker.add_argument("--hostname", default=None, help="Celery node name (default support-desk-<queues>@host)")
    worker.add_argument("--events", action="store_true", help="send task events (for Flower's task views)")
    worker.add_argument("--crew-factory", default=None, help=argparse.SUPPRESS)  # module:function, tests/bench

    ui = sub.add_parser("ui", help="start the Streamlit web app")
    ui.add_argument("--port", type=int, default=None)

    run = sub.add_parser("run", help="start the API and the web app together (the README's run command)")
    run.add_argument("--host", default=None)
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--ui-port", type=int, default=None)

    users = sub.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    create = users.add_parser("create", help="create an account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=("customer", "integrator", "staff", "admin"))
    create.add_argument("--customer-id", default=None)
    create.add_argument("--password-stdin", action="store_true", required=True)
    disable = users.add_parser("disable", help="disable an account: its tokens stop working within a second")
    disable.add_argument("username")
    enable = users.add_parser("enable", help="enable a disabled account (its old tokens stay revoked)")
    enable.add_argument("username")

    audit = sub.add_parser("audit", help="audit log tools").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check the audit log's hash chain")
    verify.add_argument("--file", default=None, help="audit log file (default: AUDIT_LOG_FILE)")
    verify.add_argument("--chain", default=None, help="that file's chain in the database (default: AUDIT_CHAIN)")

    db = sub.add_parser("db", help="database tools").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or upgrade the schema (Alembic migrations)")

    customers = sub.add_parser("customers", help="customer records (SLA tier, plan, locale)").add_subparsers(
        dest="customers_command", required=True
    )
    imports = customers.add_parser("import", help="create or update customers from a CSV file (id,name,tier,...)")
    imports.add_argument("file")

    bench = sub.add_parser("bench", help="load-test the desk on loopback")
    bench.add_argument("--scenario", action="append", default=None)
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--out", default="bench-results")
    bench.add_argument("--quick", action="store_true", help="tiny counts (used by the test suite)")
    bench.add_argument(
        "--workers",
        type=int,
        default=4,
        help="hosted-slow/hybrid: also run the top level on N API processes (1 = skip that run)",
    )
    bench.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/15",
        help="rate-limit storage shared by those processes (the run is skipped if it is unreachable)",
    )
    bench.add_argument(
        "--worker-database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL for those processes, used in a throw-away schema (skipped if unreachable)",
    )
    return parser


def _handler_key(args: argparse.Namespace) -> str:
    for group in ("users", "audit", "db", "customers"):
        if args.command == group:
            return f"{group} {getattr(args, f'{group}_command')}"
    return str(args.command)


def _load(target: str) -> Callable[[argparse.Namespace], int]:
    module_name, function_name = target.split(":")
    handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), function_name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _load(HANDLERS[_handler_key(args)])(args)


if __name__ == "__main__":
    sys.exit(main())
