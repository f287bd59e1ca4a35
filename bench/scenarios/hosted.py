"""`hosted-slow` and `hybrid`: the crew against the fake OpenAI-compatible server on 127.0.0.1.

- `hosted-slow`: classifier and specialists on the fake server (every call waits `delay` seconds);
- `hybrid`: specialists on the fake server, the local classifier.

Ideal throughput at concurrency C = C / (delay x hosted calls per request): what a desk achieves when
nothing but the model's latency limits it. Threads, executors and pools must not cap it.
"""

from __future__ import annotations

from typing import Any

from bench.api_process import AccountTemplate, ApiProcess
from bench.context import ACCOUNTS, INTEGRATOR, BenchContext, target
from bench.fake_llm import FakeLLMServer
from bench.load import ClosedLoad, closed_level, run_driver
from bench.messages import MIX, payloads
from bench.pgschema import PostgresUnreachable, throwaway_schema
from bench.stats import latency_summary

THROUGHPUT_TARGET = 0.90
HYBRID_CALLS_TARGET = 1.1


def delay(quick: bool) -> float:
    return 0.05 if quick else 1.0


def loads(quick: bool) -> list[ClosedLoad]:
    if quick:
        return [ClosedLoad(concurrency=2, duration=1.5, warmup=0.3, max_requests=10)]
    return [ClosedLoad(c, duration=20.0, warmup=6.0, max_requests=6000) for c in (8, 32, 128)]


def _env(server: FakeLLMServer, hosted_classifier: bool) -> dict[str, str]:
    env = {
        "SUPPORT_LLM_MODEL": "openai/bench-specialist",
        "SUPPORT_LLM_BASE_URL": server.base_url,
        "SUPPORT_LLM_API_KEY": "bench-not-a-key",
        "SUPPORT_CLASSIFIER_MODEL": "",
    }
    if hosted_classifier:
        env["SUPPORT_CLASSIFIER_MODEL"] = "openai/bench-classifier"
    return env


def non_complex_probe(api: ApiProcess, server: FakeLLMServer, token: str) -> dict[str, Any]:
    """Each message of the mix once, all at once. The fake server counts calls per customer text, so the
    calls of the requests the desk routed as non-complex are counted apart from the complex ones."""
    requests = [{**item, "token": token, "tag": message.text} for item, message in zip(payloads(), MIX, strict=True)]
    server.reset()
    samples, _labels, _elapsed = run_driver(
        {
            "mode": "closed",
            "base_url": api.base_url,
            "concurrency": len(requests),
            "duration": 600.0,
            "max_requests": len(requests),
            "requests": requests,
        },
        timeout=900.0,
    )
    by_message = server.stats().calls_by_message
    simple = [s for s in samples if s.status == 200 and s.route != "complex"]
    calls = sum(by_message.get(s.tag, 0) for s in simple)
    return {
        "requests": len(samples),
        "ok": sum(1 for s in samples if s.status == 200),
        "non_complex": len(simple),
        "routed_complex": sum(1 for s in samples if s.route == "complex"),
        "hosted_calls_per_request": round(calls / max(1, len(simple)), 3),
        "p50_ms": latency_summary(simple)["p50_ms"],
    }


def redis_unreachable(url: str) -> str | None:
    """Why the multi-process run cannot share limits through `url`, or None when Redis answers."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable ({exc.__class__.__name__}); run with --redis-url or --workers 1"
    finally:
        client.close()
    return None


def multi_worker_level(ctx: BenchContext, name: str, hosted_classifier: bool) -> dict[str, Any]:
    """The top level again, on `ctx.workers` API processes that share rate limits in Redis and cases in
    PostgreSQL: one Python process is CPU-bound under the GIL well below the ideal (docs/performance.md),
    and several worker processes on a shared database is how the desk is deployed for load."""
    reason = redis_unreachable(ctx.redis_url)
    if reason is not None:
        return {"workers": ctx.workers, "skipped": reason}
    wait = delay(ctx.quick)
    workdir = ctx.scenario_dir(f"{name}-workers")
    try:
        with throwaway_schema(ctx.worker_database_url) as database_url:
            shared = {"RATE_LIMIT_STORAGE_URI": ctx.redis_url, "DATABASE_URL": database_url}
            accounts = AccountTemplate.create(workdir / "accounts", ACCOUNTS, shared)
            with (
                FakeLLMServer(delay=wait) as server,
                ApiProcess(
                    workdir, accounts, env={**_env(server, hosted_classifier), **shared}, workers=ctx.workers
                ) as api,
            ):
                requests = [{**item, "token": api.token(INTEGRATOR)} for item in payloads()]
                level = closed_level(api, loads(ctx.quick)[-1], requests, server, wait)
    except PostgresUnreachable as exc:
        return {"workers": ctx.workers, "skipped": f"{exc}; run with --worker-database-url or --workers 1"}
    return {"workers": ctx.workers, "rate_limit_storage": "redis", "database": "postgresql", **level}


def run_mode(ctx: BenchContext, name: str, hosted_classifier: bool) -> dict[str, Any]:
    wait = delay(ctx.quick)
    with (
        FakeLLMServer(delay=wait) as server,
        ApiProcess(ctx.scenario_dir(name), ctx.accounts, env=_env(server, hosted_classifier)) as api,
    ):
        token = api.token(INTEGRATOR)
        requests = [{**item, "token": token} for item in payloads()]
        levels = [{"workers": 1, **closed_level(api, load, requests, server, wait)} for load in loads(ctx.quick)]
        probe = non_complex_probe(api, server, token)
    result: dict[str, Any] = {"scenario": name, "delay_s": wait, "levels": levels, "non_complex": probe}
    if ctx.workers > 1:
        multi = multi_worker_level(ctx, name, hosted_classifier)
        if "skipped" in multi:
            result["multi_worker_skipped"] = multi["skipped"]
        else:
            levels.append(multi)
    return result


def run_hosted_slow(ctx: BenchContext) -> dict[str, Any]:
    result = run_mode(ctx, "hosted-slow", hosted_classifier=True)
    top = max(level["concurrency"] for level in result["levels"])
    errors = sum(sum(level["errors"].values()) for level in result["levels"])
    result["targets"] = [
        target(
            f"measured/ideal throughput at concurrency {top}, {level['workers']} API process(es)",
            f">= {THROUGHPUT_TARGET:.0%}",
            level["measured_over_ideal"],
            level["measured_over_ideal"] >= THROUGHPUT_TARGET,
        )
        for level in result["levels"]
        if level["concurrency"] == top
    ]
    result["targets"].append(target("errors", "0", errors, errors == 0))
    return result


def run_hybrid(ctx: BenchContext) -> dict[str, Any]:
    result = run_mode(ctx, "hybrid", hosted_classifier=False)
    calls = result["non_complex"]["hosted_calls_per_request"]
    errors = sum(sum(level["errors"].values()) for level in result["levels"])
    result["targets"] = [
        target(
            "hosted model calls per non-complex request",
            f"<= {HYBRID_CALLS_TARGET}",
            calls,
            calls <= HYBRID_CALLS_TARGET,
        ),
        target("errors", "0", errors, errors == 0),
    ]
    return result
