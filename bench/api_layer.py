"""What the API layer costs: `python -m bench.api_layer [--fake] [-n 200]`.

One run measures, interleaved so both see the same machine load:
- the crew call made in-process (`crew.classify(msg)`, `crew.handle(msg)`), and
- the same call through the full stack: an HTTP request over loopback to a real uvicorn server process
  (JWT auth, account lookup, rate limit, sanitising, case written before and after the crew, audit line
  in file and database), answered by the same kind of crew.
The difference of the medians is the API layer's cost; the target is <= 5 ms at p50.
`--fake` uses an instant crew, so the full-stack latency *is* the API layer's cost.
This is a benchmark, not a test: numbers depend on the machine; it writes only under a temp directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import httpx

from bench.api_process import ApiStartFailed, base_env, free_port, minted_integrator_token, start_uvicorn, wait_ready
from bench.fake_crew import instant_crew
from bench.stats import median, percentile
from crew.models import SupportCrew
from desk.console import out as _out
from desk.settings import Settings

MESSAGES = (
    "I was charged twice for my subscription this month, please refund one payment.",
    "The app crashes every time I open the settings page after the last update.",
    "Where can I change the delivery address of my order?",
    "I want to speak to a manager, this is the third time nobody answers me.",
)
SECRET = "benchmark-secret-key-0123456789-abcdefghij"  # noqa: S105 - a throw-away server on loopback


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _checked(call: Callable[[str], httpx.Response], message: str) -> None:
    call(message).raise_for_status()


def run(n: int, fake: bool) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="desk-bench-"))
    env = base_env(workdir, {"SECRET_KEY": SECRET, "RATE_LIMIT_STORAGE_URI": "memory://"})
    settings = Settings(
        _env_file=None,
        **{
            k.lower(): v
            for k, v in env.items()  # type: ignore[arg-type]
            if k.lower() in Settings.model_fields
        },
    )
    token = minted_integrator_token(env["DATABASE_URL"], SECRET, settings.algorithm)

    crew: SupportCrew
    if fake:
        crew = instant_crew()
        target = "bench.fake_crew:create_instant_app"
    else:
        from crew.service import SupportDesk

        crew = SupportDesk.from_config(settings.crew_config())
        target = "api.app:create_app"
    port = free_port()
    server = start_uvicorn(target, port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(base, server, 120)
        except ApiStartFailed as exc:
            _out(f"the API server did not become ready: {exc}")
            return 1
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            rows: list[tuple[str, list[float], list[float]]] = []
            cases: list[tuple[str, Callable[[str], object], Callable[[str], httpx.Response]]] = [
                (
                    "/support/classify",
                    crew.classify,
                    lambda m: client.post("/support/classify", json={"message": m, "customer_id": "bench-1"}),
                ),
                (
                    "/support/request",
                    crew.handle,
                    lambda m: client.post("/support/request", json={"message": m, "customer_id": "bench-1"}),
                ),
            ]
            for name, direct, over_http in cases:
                for message in MESSAGES:  # warm both paths
                    direct(message)
                    over_http(message).raise_for_status()
                inproc: list[float] = []
                http: list[float] = []
                for i in range(n):
                    message = MESSAGES[i % len(MESSAGES)]
                    inproc.append(_timed(partial(direct, message)))
                    http.append(_timed(partial(_checked, over_http, message)))
                rows.append((name, inproc, http))
    finally:
        server.terminate()
        server.wait(15)

    _out(f"API layer cost, {n} calls each, crew: {'instant fake' if fake else 'real (local model)'}")
    _out(
        f"{'endpoint':20s} {'in-process p50':>15s} {'HTTP p50':>10s} {'added p50':>10s} "
        f"{'in-process p95':>15s} {'HTTP p95':>10s}"
    )
    for name, inproc, http in rows:
        p50_in, p50_http = median(inproc), median(http)
        _out(
            f"{name:20s} {p50_in:13.2f}ms {p50_http:8.2f}ms {p50_http - p50_in:8.2f}ms "
            f"{percentile(inproc, 95):13.2f}ms {percentile(http, 95):8.2f}ms"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_layer", description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="calls per endpoint and path")
    parser.add_argument("--fake", action="store_true", help="instant crew: measure the API layer alone")
    args = parser.parse_args(argv)
    return run(args.n, args.fake)


if __name__ == "__main__":
    sys.exit(main())
