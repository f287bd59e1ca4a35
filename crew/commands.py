"""`support-desk ask "MESSAGE" [--route R] [--emergency] [--json]`: one answer from the crew, in-process."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from crew.models import Route, SupportResult
from desk.errors import AppError
from desk.settings import get_settings


def ask(args: argparse.Namespace) -> int:
    from crew.service import SupportDesk  # imports crewai (~5 s); only this sub-command pays for it

    desk = SupportDesk.from_settings(get_settings())
    try:
        result = desk.handle(args.message, route=Route(args.route), emergency=bool(args.emergency))
    except AppError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
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
