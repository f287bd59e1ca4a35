"""Runs one load level: the driver in its own process against a started API, with /proc and fake-model
counters read around it. Returns the level's numbers as a plain dict (what the report and JSON show)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.api_process import ApiProcess
from bench.fake_llm import FakeLLMServer
from bench.stats import Sample, errors_by_status, latency_summary, steady_throughput

DRIVER_TIMEOUT_SLACK_SECONDS = 180.0
MB = 1024 * 1024


@dataclass(frozen=True)
class ClosedLoad:
    """`concurrency` clients for `duration` seconds (at most `max_requests`); throughput is counted from
    `warmup` seconds until `duration`, while every client is busy."""

    concurrency: int
    duration: float
    warmup: float
    max_requests: int


def run_driver(plan: dict[str, Any], timeout: float) -> tuple[list[Sample], list[str], float]:
    """Samples, each sample's label, and the driver's elapsed seconds."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.driver"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load driver failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    result = json.loads(done.stdout)
    rows = result["samples"]
    samples = [Sample(int(r[0]), float(r[1]), float(r[2]), str(r[3]), str(r[5]), str(r[6])) for r in rows]
    return samples, [str(r[4]) for r in rows], float(result["elapsed"])


def closed_level(
    api: ApiProcess,
    load: ClosedLoad,
    requests: list[dict[str, Any]],
    fake: FakeLLMServer | None = None,
    delay: float | None = None,
) -> dict[str, Any]:
    plan = {
        "mode": "closed",
        "base_url": api.base_url,
        "concurrency": load.concurrency,
        "duration": load.duration,
        "max_requests": load.max_requests,
        "requests": requests,
    }
    if fake is not None:
        fake.reset()
    before = api.sample()
    samples, _labels, elapsed = run_driver(plan, load.duration + DRIVER_TIMEOUT_SLACK_SECONDS)
    after = api.sample()
    ok = [s for s in samples if s.status == 200]
    window_end = min(load.duration, max((s.finished for s in samples), default=0.0))
    steady = steady_throughput(samples, load.warmup, window_end)
    in_window = steady * max(0.0, window_end - load.warmup)
    # A steady window needs at least one full round of answers; when latency outgrows the run (e.g. 128
    # clients against a saturated server) fall back to the whole run, drain included.
    throughput, method = (
        (steady, "steady-window") if in_window >= load.concurrency else (len(ok) / max(elapsed, 1e-9), "whole-run")
    )
    level: dict[str, Any] = {
        "concurrency": load.concurrency,
        "requests": len(samples),
        "ok": len(ok),
        "errors": errors_by_status(samples),
        "throughput_rps": round(throughput, 2),
        "throughput_method": method,
        **latency_summary(samples),
        "cpu_ms_per_request": round((after.cpu_seconds - before.cpu_seconds) * 1000 / max(1, len(samples)), 1),
        "cpu_utilisation": round((after.cpu_seconds - before.cpu_seconds) / max(elapsed, 1e-9), 2),
        "peak_rss_mb": round(after.peak_rss_bytes / MB, 1),
        "elapsed_s": round(elapsed, 2),
        "routes": dict(Counter(s.route for s in ok)),
        "latencies_ms": [round(s.latency * 1000, 1) for s in ok],
    }
    if fake is not None:
        stats = fake.stats()
        calls_per_request = stats.calls / max(1, len(ok))
        level["hosted_calls"] = stats.calls
        level["hosted_calls_per_request"] = round(calls_per_request, 3)
        level["fake_peak_in_flight"] = stats.peak_in_flight
        if delay:
            ideal = load.concurrency / (delay * calls_per_request) if calls_per_request else 0.0
            level["ideal_rps"] = round(ideal, 2)
            level["measured_over_ideal"] = round(level["throughput_rps"] / ideal, 3) if ideal else 0.0
    return level
