"""`kb-search`: wall time of one knowledge-base search, in this process (no server, no crewai).

Every message of the bench mix is searched `rounds` times, one timed call each. The search runs once per
specialist answer (the knowledge-base tool), so its cost adds to every request; the target is the old
unit-test bound (1 ms per query), reported here because a wall-time bound in a test fails on a busy machine
without anything being wrong.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bench.context import BenchContext, target
from bench.messages import MIX
from bench.stats import percentile

TARGET_MS = 1.0


def measure(questions: Sequence[str], rounds: int) -> dict[str, Any]:
    from crew.knowledge_base import KnowledgeBase

    knowledge_base = KnowledgeBase.load()
    for question in questions:  # one pass first: the figure is the steady cost, not a first call's
        knowledge_base.search(question)
    times: list[float] = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            knowledge_base.search(question)
            times.append(time.perf_counter() - started)
    return {
        "queries": len(times),
        "articles": len(knowledge_base),
        "mean_us": round(sum(times) / len(times) * 1e6, 1),
        "p50_us": round(percentile(times, 50) * 1e6, 1),
        "p95_us": round(percentile(times, 95) * 1e6, 1),
    }


def run(ctx: BenchContext) -> dict[str, Any]:
    figures = measure([message.text for message in MIX], rounds=10 if ctx.quick else 200)
    mean_ms = round(figures["mean_us"] / 1000, 3)
    return {
        "scenario": "kb-search",
        "kb_search": figures,
        "targets": [
            target("knowledge-base search, mean per query", f"<= {TARGET_MS:g} ms", mean_ms, mean_ms <= TARGET_MS)
        ],
    }
