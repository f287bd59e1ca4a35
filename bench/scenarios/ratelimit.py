"""`ratelimit`: one customer bursting at 10x its per-minute limit while others send at normal rates.

Two phases on one server (local model), each well inside one minute so the moving window never slides:
a baseline where the calm customers send alone, then the same calm traffic (other customer ids, so
their own counters start empty) next to the burst. The burster must get exactly its limit; the calm
customers no errors and the same latency as in the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.api_process import ApiProcess
from bench.context import INTEGRATOR, BenchContext, target
from bench.load import run_driver
from bench.stats import Sample, errors_by_status, latency_summary

LATENCY_TOLERANCE = 1.25  # the machine is shared and noisy: 25% on the calm p50 counts as "no added latency"
BURST_FACTOR = 10


@dataclass(frozen=True)
class RateShape:
    limit_per_minute: int
    calm_requests: int  # per calm customer
    calm_interval: float
    burst_requests: int
    burst_interval: float


def shape(quick: bool) -> RateShape:
    if quick:
        # Compressed: the burster sends 10x its limit within a second and a half.
        return RateShape(limit_per_minute=3, calm_requests=2, calm_interval=0.5, burst_requests=30, burst_interval=0.05)
    # Full: limit 20/min; calm customers at half their limit (one every 6 s); the burster at 10x its limit
    # (200/min, one every 0.3 s) for 30 s: 100 requests, of which exactly 20 may pass.
    return RateShape(
        limit_per_minute=20,
        calm_requests=5,
        calm_interval=6.0,
        burst_requests=100,
        burst_interval=60.0 / (BURST_FACTOR * 20),
    )


def _stream(api: ApiProcess, customer: str, label: str, count: int, interval: float, offset: float) -> dict[str, Any]:
    # The limit key is the customer a request acts for, whoever calls: one integrator speaks for all.
    return {
        "label": label,
        "token": api.token(INTEGRATOR),
        "path": "/support/request",
        "json": {"message": "I was charged twice this month, can I get a refund?", "customer_id": customer},
        "count": count,
        "interval": interval,
        "offset": offset,
    }


def _phase(api: ApiProcess, streams: list[dict[str, Any]]) -> list[tuple[Sample, str]]:
    samples, labels, _elapsed = run_driver({"mode": "paced", "base_url": api.base_url, "streams": streams}, 600.0)
    return list(zip(samples, labels, strict=True))


def run(ctx: BenchContext) -> dict[str, Any]:
    rate = shape(ctx.quick)
    env = {"RATE_LIMIT_PER_MINUTE": str(rate.limit_per_minute)}
    with ApiProcess(ctx.scenario_dir("ratelimit"), ctx.accounts, env=env) as api:
        calm_base = [
            _stream(api, f"cust-base-{i}", "calm", rate.calm_requests, rate.calm_interval, i * 0.1) for i in (1, 2, 3)
        ]
        calm_burst = [
            _stream(api, f"cust-calm-{i}", "calm", rate.calm_requests, rate.calm_interval, i * 0.1) for i in (1, 2, 3)
        ]
        burst = _stream(api, "cust-burst", "burst", rate.burst_requests, rate.burst_interval, 0.0)
        before = api.sample()
        baseline = [s for s, _ in _phase(api, calm_base)]
        during = _phase(api, [*calm_burst, burst])
        after = api.sample()
    calm = [s for s, label in during if label == "calm"]
    bursting = [s for s, label in during if label == "burst"]
    accepted = sum(1 for s in bursting if s.status == 200)
    rejected = sum(1 for s in bursting if s.status == 429)
    base_lat, calm_lat = latency_summary(baseline), latency_summary(calm)
    ratio = round(calm_lat["p50_ms"] / base_lat["p50_ms"], 3) if base_lat["p50_ms"] else 0.0
    calm_errors = errors_by_status(calm)
    return {
        "scenario": "ratelimit",
        "limit_per_minute": rate.limit_per_minute,
        "burst": {
            "sent": len(bursting),
            "accepted": accepted,
            "rejected_429": rejected,
            "other": errors_by_status(bursting, ok=(200, 429)),
        },
        "calm_baseline": {"requests": len(baseline), "errors": errors_by_status(baseline), **base_lat},
        "calm_during_burst": {"requests": len(calm), "errors": calm_errors, **calm_lat},
        "calm_p50_ratio": ratio,
        "cpu_ms_per_request": round(
            (after.cpu_seconds - before.cpu_seconds) * 1000 / max(1, len(baseline) + len(during)), 1
        ),
        "peak_rss_mb": round(after.peak_rss_bytes / (1024 * 1024), 1),
        "targets": [
            target(
                "bursting customer accepted", f"== {rate.limit_per_minute}", accepted, accepted == rate.limit_per_minute
            ),
            target("calm customers' errors during the burst", "0", sum(calm_errors.values()), not calm_errors),
            target("calm p50 during burst / baseline", f"<= {LATENCY_TOLERANCE}", ratio, ratio <= LATENCY_TOLERANCE),
        ],
    }
