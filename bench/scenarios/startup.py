"""`startup`: time from `support-desk serve` starting to /readyz answering 200, and idle RSS afterwards."""

from __future__ import annotations

import time
from typing import Any

from bench.api_process import ApiProcess
from bench.context import BenchContext, target
from bench.stats import median

READY_TARGET_SECONDS = 10.0
RSS_TARGET_MB = 400.0
IDLE_SETTLE_SECONDS = 1.0


def run(ctx: BenchContext) -> dict[str, Any]:
    starts = 1 if ctx.quick else 2
    ready, listening, rss, processes = [], [], [], 0
    for attempt in range(starts):
        with ApiProcess(ctx.scenario_dir(f"startup-{attempt}"), ctx.accounts) as api:
            ready.append(api.ready_seconds)
            listening.append(api.listening_seconds)
            time.sleep(IDLE_SETTLE_SECONDS)  # let the crew loader's garbage settle before reading RSS
            sample = api.sample()
            processes = len(api.tree())
            rss.append(sample.rss_bytes / processes / (1024 * 1024))
    ready_s, rss_mb = round(median(ready), 2), round(median(rss), 1)
    return {
        "scenario": "startup",
        "starts": starts,
        "ready_seconds": [round(v, 2) for v in ready],
        "listening_seconds": [round(v, 2) for v in listening],
        "idle_rss_mb_per_process": [round(v, 1) for v in rss],
        "api_processes": processes,
        "targets": [
            target(
                "ready (median of starts)", f"<= {READY_TARGET_SECONDS:.0f} s", ready_s, ready_s <= READY_TARGET_SECONDS
            ),
            target("idle RSS per API process (median)", f"<= {RSS_TARGET_MB:.0f} MB", rss_mb, rss_mb <= RSS_TARGET_MB),
        ],
    }
