"""The crew's two sub-commands, which read the desk's settings and hand the crew what it needs.

    support-desk ask "MESSAGE" [--route R] [--emergency] [--json]   one answer from the crew, in-process
    support-desk eval FILE.csv [--text-col C] [--label-col C] [--limit N] [--json]   the routing step alone

The crew itself reads no settings (`crew.config.CrewConfig`); the work is the crew's (`crew.service`,
`crew.evaluation`), the reading of the environment and the exit codes are here.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TextIO

from crew.errors import CrewError
from crew.evaluation import EvaluationInputError, evaluate, format_report, local_routing_step, read_labelled_rows
from crew.models import Route, SupportResult
from desk.settings import get_settings

EXIT_USAGE = 2


def ask(args: argparse.Namespace) -> int:
    from crew.service import SupportDesk  # imports crewai (~5 s); only this sub-command pays for it
    from desk.injection_guard import hosted_policy  # guard: redaction and canary of hosted calls

    settings = get_settings()
    desk = SupportDesk.from_config(settings.crew_config(), hosted_policy=hosted_policy(settings))
    try:
        result = desk.handle(args.message, route=Route(args.route), emergency=bool(args.emergency))
    except CrewError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        write_human(result, sys.stdout)
    return 0


def write_human(result: SupportResult, out: TextIO) -> None:
    """The reply first, then one line each for what a support lead checks: route, sources, cost, time."""
    c = result.classification
    out.write(result.reply.rstrip() + "\n\n")
    out.write(f"route:      {result.agent_type.value}\n")
    out.write(
        f"classified: {c.category.value} / {c.priority.value} (confidence {c.confidence:.2f}"
        f"{', complex' if c.is_complex else ''})\n"
    )
    sources = ", ".join(f"[{item.article_id}] {item.title}" for item in result.citations) or "none"
    out.write(f"sources:    {sources}\n")
    out.write(
        f"model:      {result.model_calls} calls ({result.hosted_model_calls} hosted), "
        f"{result.token_usage.total_tokens} tokens\n"
    )
    out.write(f"time:       {result.stage_seconds.get('total', 0.0) * 1000:.0f} ms\n")
    if result.degraded:
        out.write(f"degraded:   {result.degraded_reason}\n")


def evaluate_command(args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """`support-desk eval FILE.csv`: exit 0 with a report, 2 when the input cannot be evaluated."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    config = get_settings().crew_config()
    if not config.uses_local_classifier:
        # Only the local router is wired here; a hosted classifier is measured through the crew service.
        err.write(
            "support-desk eval: SUPPORT_CLASSIFIER_MODEL is set; this command measures the local router only "
            "(unset SUPPORT_CLASSIFIER_MODEL to run it)\n"
        )
        return EXIT_USAGE
    if args.limit < 0:
        err.write("support-desk eval: --limit must be 0 (all rows) or a positive number\n")
        return EXIT_USAGE
    try:
        rows = read_labelled_rows(Path(args.file), args.text_col, args.label_col, args.limit)
    except (EvaluationInputError, UnicodeDecodeError, csv.Error) as exc:
        err.write(f"support-desk eval: {exc}\n")
        return EXIT_USAGE
    step, description = local_routing_step(config)
    report = evaluate(rows, step, router=description)
    if args.json:
        out.write(json.dumps(report.to_dict(), sort_keys=True) + "\n")
    else:
        out.write(format_report(report, args.file))
    return 0
