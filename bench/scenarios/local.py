"""`local`: the local model, the realistic message mix at concurrency 1, 8 and 32, and a CPU profile."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.api_process import ApiProcess, base_env
from bench.context import INTEGRATOR, BenchContext, target
from bench.load import ClosedLoad, closed_level
from bench.messages import payloads

OURS_TARGET = 0.10


def loads(quick: bool) -> list[ClosedLoad]:
    if quick:
        return [ClosedLoad(concurrency=2, duration=1.5, warmup=0.2, max_requests=8)]
    return [ClosedLoad(c, duration=15.0, warmup=2.0, max_requests=2000) for c in (1, 8, 32)]


def run_profile(ctx: BenchContext, count: int, warmup: int) -> dict[str, Any]:
    workdir = ctx.scenario_dir("local-profile")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench.db").write_bytes(ctx.accounts.path.read_bytes())
    plan = {
        "requests": payloads(),
        "count": count,
        "warmup": warmup,
        "username": INTEGRATOR,
        "password": ctx.accounts.password,
        "top": 15,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.profiling"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        env=base_env(workdir, {}),
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the profile run failed: {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(ctx: BenchContext) -> dict[str, Any]:
    with ApiProcess(ctx.scenario_dir("local"), ctx.accounts) as api:
        requests = [{**item, "token": api.token(INTEGRATOR)} for item in payloads()]
        levels = [closed_level(api, load, requests) for load in loads(ctx.quick)]
    profile = run_profile(ctx, count=4 if ctx.quick else 70, warmup=2 if ctx.quick else 14)
    ours = profile["ours_share"]
    by_job = profile["ours_share_by_job"]
    best = max(levels, key=lambda level: level["throughput_rps"])
    return {
        "scenario": "local",
        "levels": levels,
        "model_calls_per_request": profile["model_calls_per_request"],
        "ceiling_rps": best["throughput_rps"],
        "profile": profile,
        "targets": [
            target(
                "our share of CPU per request: everything outside CrewAI (API layer incl. web framework + glue)",
                f"<= {OURS_TARGET:.0%}",
                ours,
                ours <= OURS_TARGET,
            ),
            target(
                "our share of CPU per request: auth, limits, sanitising, database, audit, routing glue",
                f"<= {OURS_TARGET:.0%}",
                by_job,
                by_job <= OURS_TARGET,
            ),
            target(
                "errors", "0", sum(sum(lv["errors"].values()) for lv in levels), all(not lv["errors"] for lv in levels)
            ),
        ],
    }
