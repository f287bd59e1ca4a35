"""In-process latency of the crew with the local model: `python -m bench.crew_latency [--runs N] [--json]`.

Two scenarios, each warmed up and then run N times (default 30) one after another:
- `single`: classify + one specialist (Flow -> classifier crew -> specialist crew with one KB search);
- `complex`: classify + analyst + two specialists + reviewer.

Each request's wall time is split into *ours* (time inside `LocalLLM.respond`, i.e. prompt parsing, router
and composer, plus the knowledge-base tool's `_run`) and *CrewAI* (everything else: Flow, crews, agent
executors, prompt building, events, output conversion). The model is instant, so this is the framework
cost a real model's latency would add to. A `direct` row runs router + KB search + composer without
CrewAI, as the floor. Last, the knowledge-base search alone, per query (`bench.scenarios.kb_search`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import kb_search
from bench.stats import median, percentile
from desk.settings import Settings

SINGLE_MESSAGES = (
    "I was charged twice this month",
    "The app crashes every time I log in on my phone",
    "How do I change the email address on my account?",
    "My lawyer will contact you about this",
)
COMPLEX_MESSAGES = (
    "I was charged twice this month. Also the app crashes every time I open it.",
    "My invoice shows the wrong plan and I can't reset my password.",
)


@dataclass
class Stopwatch:
    """Seconds spent in our code during one request. Benchmark-only; requests run one at a time."""

    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds

    def take(self) -> float:
        with self._lock:
            value, self.seconds = self.seconds, 0.0
            return value


@dataclass(frozen=True)
class Row:
    scenario: str
    runs: int
    p50_ms: float
    p95_ms: float
    ours_p50_ms: float
    crewai_p50_ms: float
    ours_share: float
    model_calls: int


def build_timed_desk(settings: Settings, stopwatch: Stopwatch) -> Any:
    """A local-model desk whose model and tool report their own time to `stopwatch`."""
    from crew.service import SupportDesk

    SupportDesk.from_config(settings.crew_config())  # bootstrap + imports; its parts are rebuilt below with timers
    from crew.crews import CrewParts
    from crew.knowledge_base import KnowledgeBase
    from crew.llm_factory import ModelSet
    from crew.local_model.llm import LocalLLM
    from crew.local_model.router import LocalRouter
    from crew.tools import KnowledgeBaseSearchTool

    class TimedLocalLLM(LocalLLM):
        def respond(self, messages: Any, tools: Any = None) -> Any:
            started = time.perf_counter()
            try:
                return super().respond(messages, tools)
            finally:
                stopwatch.add(time.perf_counter() - started)

    class TimedKBTool(KnowledgeBaseSearchTool):
        def _run(self, query: str, category: Any = None) -> str:
            started = time.perf_counter()
            try:
                return super()._run(query, category)
            finally:
                stopwatch.add(time.perf_counter() - started)

    router = LocalRouter(settings.complex_confidence_threshold)
    local = TimedLocalLLM(router=router)
    models = ModelSet(classifier=local, specialist=local, local=local)
    tool = TimedKBTool(knowledge_base=KnowledgeBase.load())
    parts = CrewParts.load(classifier_llm=local, specialist_llm=local, kb_tool=tool)
    return SupportDesk(config=settings.crew_config(), router=router, models=models, parts=parts, local_parts=parts)


def measure(
    name: str, handle: Callable[[str], Any], messages: Sequence[str], runs: int, warmup: int, stopwatch: Stopwatch
) -> Row:
    for index in range(warmup):
        handle(messages[index % len(messages)])
    totals: list[float] = []
    ours: list[float] = []
    calls = 0
    for index in range(runs):
        stopwatch.take()
        started = time.perf_counter()
        result = handle(messages[index % len(messages)])
        totals.append(time.perf_counter() - started)
        ours.append(stopwatch.take())
        calls = max(calls, getattr(result, "model_calls", 0))
    crewai = [total - own for total, own in zip(totals, ours, strict=True)]
    return Row(
        scenario=name,
        runs=runs,
        p50_ms=median(totals) * 1000,
        p95_ms=percentile(totals, 95) * 1000,
        ours_p50_ms=median(ours) * 1000,
        crewai_p50_ms=median(crewai) * 1000,
        ours_share=sum(ours) / sum(totals),
        model_calls=calls,
    )


def direct_baseline(runs: int, stopwatch: Stopwatch) -> Row:
    """Router + KB search + composer with no CrewAI at all: the floor for `single`."""
    from crew.knowledge_base import KnowledgeBase
    from crew.local_model.composer import compose_reply
    from crew.local_model.router import LocalRouter

    router, kb = LocalRouter(0.45), KnowledgeBase.load()

    def handle(message: str) -> None:
        started = time.perf_counter()
        label = router.classify(message)
        route = label.route()
        hits = kb.search(message, k=3, category=label.category)
        compose_reply(message, route, hits)
        stopwatch.add(time.perf_counter() - started)

    return measure("direct (no CrewAI)", handle, SINGLE_MESSAGES, runs, 3, stopwatch)


def render(rows: Sequence[Row]) -> str:
    header = (
        f"{'scenario':<22}{'runs':>5}{'p50 ms':>9}{'p95 ms':>9}{'ours p50':>10}{'CrewAI p50':>12}"
        f"{'ours %':>8}{'calls':>7}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.scenario:<22}{row.runs:>5}{row.p50_ms:>9.1f}{row.p95_ms:>9.1f}{row.ours_p50_ms:>10.1f}"
            f"{row.crewai_p50_ms:>12.1f}{row.ours_share * 100:>7.1f}%{row.model_calls:>7}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crew_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    stopwatch = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="crew-bench-") as storage:
        settings = Settings(crewai_storage_dir=Path(storage))
        started = time.perf_counter()
        desk = build_timed_desk(settings, stopwatch)
        build_seconds = time.perf_counter() - started
        rows = [
            measure("single (classify+spec)", desk.handle, SINGLE_MESSAGES, args.runs, args.warmup, stopwatch),
            measure("complex (5 tasks)", desk.handle, COMPLEX_MESSAGES, args.runs, args.warmup, stopwatch),
            direct_baseline(args.runs, stopwatch),
        ]
    search = kb_search.measure(SINGLE_MESSAGES + COMPLEX_MESSAGES, rounds=args.runs)
    if args.json:
        payload = {"build_seconds": build_seconds, "rows": [row.__dict__ for row in rows], "kb_search": search}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(
            f"desk build (import crewai + parts): {build_seconds:.1f} s\n\n{render(rows)}\n\n"
            f"knowledge-base search alone: {search['mean_us']:.0f} us per query on average, "
            f"p50 {search['p50_us']:.0f} us, p95 {search['p95_us']:.0f} us ({search['queries']} queries)\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
