"""`support-desk bench [--scenario NAME ...] [--json] [--out DIR] [--quick]`.

Runs the named scenarios (all by default) one after another, each against its own freshly started API
on 127.0.0.1, prints one table per scenario (or with --json one JSON object per line) and writes
`results.json` plus one PNG per scenario into --out. Exit code 0 when every scenario ran, 1 when one
failed to run (a missed target is reported, not an error: the numbers are the product).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api_process import AccountTemplate, ApiStartFailed
from bench.context import ACCOUNTS, BenchContext
from bench.report import public, write_chart, write_text
from bench.scenarios import hosted, kb_search, local, ratelimit, startup, workers

Scenario = Callable[[BenchContext], dict[str, Any]]
SCENARIOS: dict[str, Scenario] = {
    "startup": startup.run,
    "local": local.run,
    "hosted-slow": hosted.run_hosted_slow,
    "hybrid": hosted.run_hybrid,
    "ratelimit": ratelimit.run,
    "kb-search": kb_search.run,
    "workers": workers.run_workers,
    "crash": workers.run_crash,
}


def speed_probe_ms(rounds: int = 5) -> float:
    """Median CPU time of a fixed pure-Python loop: how fast this machine runs Python right now.

    Shared cloud machines change speed from one hour to the next (measured here: 2x between two runs of the
    same code); the probe, taken before and after the scenarios, tells a reader which runs compare."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        total = 0
        for value in range(2_000_000):
            total += value
        times.append((time.process_time() - started) * 1000)
    return round(sorted(times)[rounds // 2], 1)


def machine() -> dict[str, Any]:
    import os
    import platform

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def run_scenario(name: str, ctx: BenchContext) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = SCENARIOS[name](ctx)
    except (ApiStartFailed, RuntimeError, OSError, ValueError) as exc:
        # One failed scenario must not hide the others' numbers; the reason is reported.
        result = {"scenario": name, "error": f"{type(exc).__name__}: {exc}", "targets": []}
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def bench(args: argparse.Namespace) -> int:
    names: list[str] = args.scenario or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        sys.stderr.write(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}\n")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    speed_before = speed_probe_ms(1 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="support-desk-bench-") as tmp:
        workdir = Path(tmp)
        ctx = BenchContext(
            workdir,
            AccountTemplate.create(workdir / "accounts", ACCOUNTS),
            quick=args.quick,
            workers=args.workers,
            redis_url=args.redis_url,
            worker_database_url=args.worker_database_url,
        )
        for name in names:
            result = run_scenario(name, ctx)
            chart = write_chart(result, out / f"{name}.png")
            if chart is not None:
                result["chart"] = str(chart)
            results.append(result)
            if args.json:
                sys.stdout.write(json.dumps(public(result)) + "\n")
                sys.stdout.flush()
            else:
                write_text(result, sys.stdout)
    speed = {"before_ms": speed_before, "after_ms": speed_probe_ms(1 if args.quick else 5)}
    document = {"machine": {**machine(), "python_loop_probe": speed}, "quick": args.quick, "scenarios": results}
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 1 if any("error" in result for result in results) else 0
