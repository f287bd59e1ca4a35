"""Emergency -> page latency: `python -m bench.paging [-n 60] [--concurrency 1] [--fake]`.

Starts the real API (uvicorn, one process, on 127.0.0.1) with the real local crew and a webhook receiver
(`local_receiver`) in this process, then files `n` emergencies over HTTP: half flagged `emergency: true`,
half unflagged messages the classifier rates an urgent escalation (auto-emergency). For each it measures
the time from just before the request is sent to the moment the signed page arrives at the receiver, and
prints p50/p95 (target: p95 < 1 s). `--fake` swaps the crew for an instant one (the page leaves before the
crew runs, so it should hardly matter). A benchmark, not a test: it writes only under a temp directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.api_process import ApiStartFailed, base_env, free_port, minted_integrator_token, start_uvicorn, wait_ready
from bench.local_receiver import LocalReceiver
from bench.stats import median, percentile
from desk.console import out as _out

SECRET = "oncall-benchmark-secret-0123456789-abcdefgh"  # noqa: S105 - a throw-away server on loopback
WEBHOOK_SECRET = "oncall-benchmark-webhook-secret"  # noqa: S105 - a throw-away receiver on loopback
FLAGGED = "There is smoke coming out of the device you sold me and it smells of burning."
AUTO = "My account was hacked and someone is buying things with my card right now."


def _file(client: httpx.Client, index: int) -> tuple[str, bool, float, float]:
    """One emergency: (case id, auto?, send time, response seconds)."""
    auto = index % 2 == 1
    body = {"message": AUTO if auto else FLAGGED, "customer_id": f"bench-{index}", "emergency": not auto}
    sent = time.perf_counter()
    response = client.post("/support/request", json=body)
    answered = time.perf_counter() - sent
    response.raise_for_status()
    data = response.json()
    if data["status"] != "escalated":
        raise RuntimeError(f"request {index} was not escalated: {data['status']}")
    return str(data["case_id"]), auto, sent, answered


def paging_env(
    workdir: Path, receiver: LocalReceiver, secret: str, webhook_secret: str = WEBHOOK_SECRET, **extra: str
) -> dict[str, str]:
    """The environment of an API process that pages `receiver`, signing with the receiver's secret."""
    return base_env(
        workdir,
        {
            "SECRET_KEY": secret,
            "RATE_LIMIT_STORAGE_URI": "memory://",
            "ONCALL_WEBHOOK_URL": receiver.url,
            "ONCALL_WEBHOOK_SECRET": webhook_secret,
            **extra,
        },
    )


def run(n: int, concurrency: int, fake: bool) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="desk-oncall-bench-"))
    with LocalReceiver(WEBHOOK_SECRET) as receiver:
        env = paging_env(workdir, receiver, SECRET, SUPPORT_LLM_MODEL="", SUPPORT_CLASSIFIER_MODEL="")
        token = minted_integrator_token(env["DATABASE_URL"], SECRET)
        target = "bench.fake_crew:create_instant_app" if fake else "api.app:create_app"
        port = free_port()
        server = start_uvicorn(target, port, env)
        try:
            try:
                wait_ready(f"http://127.0.0.1:{port}", server, 180)
            except ApiStartFailed as exc:
                _out(f"the API server did not become ready: {exc}")
                return 1
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=120, headers={"Authorization": f"Bearer {token}"}
            ) as client:
                _file(client, 0)  # warm-up (first crew run, first connection); not counted
                receiver.wait_for(lambda r: len(r) >= 1, 10)
                baseline = len(receiver.received)
                with ThreadPoolExecutor(concurrency) as pool:
                    filed = list(pool.map(lambda i: _file(client, i), range(1, n + 1)))
                expected = {case_id for case_id, *_ in filed}
                receiver.wait_for(lambda r: expected <= {x.payload["case_id"] for x in r}, 30)
        finally:
            server.terminate()
            server.wait(15)
        arrivals: dict[str, float] = {}
        bad_signatures = 0
        for page in receiver.received[baseline:]:
            bad_signatures += not page.signature_ok
            arrivals.setdefault(page.payload["case_id"], page.arrived)
    return _report(filed, arrivals, bad_signatures, n, concurrency, fake)


def _report(
    filed: list[tuple[str, bool, float, float]],
    arrivals: dict[str, float],
    bad_signatures: int,
    n: int,
    concurrency: int,
    fake: bool,
) -> int:
    missing = [case_id for case_id, *_ in filed if case_id not in arrivals]
    latencies: dict[str, list[float]] = {"all": [], "flagged": [], "auto": []}
    for case_id, auto, sent, _answered in filed:
        if case_id in arrivals:
            ms = (arrivals[case_id] - sent) * 1000
            latencies["all"].append(ms)
            latencies["auto" if auto else "flagged"].append(ms)
    answered = [a * 1000 for *_, a in filed]
    _out(
        f"emergency -> page latency, {n} emergencies, concurrency {concurrency}, "
        f"crew: {'instant fake' if fake else 'real (local model)'}"
    )
    for name, values in latencies.items():
        if values:
            _out(
                f"  {name:8s} n={len(values):3d}  p50 {median(values):8.2f} ms  "
                f"p95 {percentile(values, 95):8.2f} ms  max {max(values):8.2f} ms"
            )
    _out(f"  (the request itself, crew included: p50 {median(answered):.2f} ms, p95 {percentile(answered, 95):.2f} ms)")
    _out(f"  pages missing: {len(missing)}, bad signatures: {bad_signatures}")
    p95 = percentile(latencies["all"], 95) if latencies["all"] else float("inf")
    _out(f"  target p95 < 1000 ms: {'met' if p95 < 1000 and not missing else 'NOT met'}")
    return 0 if not missing and not bad_signatures else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paging", description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="emergencies to file (>= 50 for the issue's numbers)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    parser.add_argument("--fake", action="store_true", help="instant crew instead of the real local one")
    args = parser.parse_args(argv)
    return run(args.n, args.concurrency, args.fake)


if __name__ == "__main__":
    sys.exit(main())
