"""CPU per hosted request in one process: `python -m bench.hosted_cpu [--runs N] [--rounds R] [--json]`.

The crew alone (`SupportDesk.handle`, no API), with the classifier and the specialists on the fake
OpenAI-compatible server (`bench.fake_llm`, no delay) in a thread of this process, the hosted-call guard
on as in the API: what one hosted request costs the process that runs the crew (a worker, or the API in
the embedded default). The fake server's own CPU is counted too (it is small and the same for any crew
code). R rounds of N sequential requests after a warm-up; the median round is reported beside every
round, with the bench's speed probe, because these machines' speed drifts.

To compare with another commit in one run, run this file with that checkout first on the path:
`PYTHONPATH=/path/to/checkout python bench/hosted_cpu.py` (the file imports only long-standing modules).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence

MESSAGES = (
    "I was charged twice this month",
    "The app crashes every time I log in on my phone",
    "How do I change the email address on my account?",
    "My invoice shows the wrong amount, please fix it",
)


def measure(runs: int, rounds: int) -> dict[str, object]:
    from bench.commands import speed_probe_ms
    from bench.fake_llm import FakeLLMServer

    probe_before = speed_probe_ms()
    with FakeLLMServer(delay=0.0) as server:
        from pydantic import SecretStr

        from crew.service import SupportDesk
        from desk.injection_guard import hosted_policy
        from desk.settings import Settings

        settings = Settings(
            support_llm_model="openai/bench-specialist",
            support_classifier_model="openai/bench-classifier",
            support_llm_base_url=server.base_url,
            support_llm_api_key=SecretStr("bench-not-a-key"),
        )
        desk = SupportDesk.from_config(settings.crew_config(), hosted_policy=hosted_policy(settings))
        for index in range(10):
            desk.handle(MESSAGES[index % len(MESSAGES)])
        per_round: list[float] = []
        calls_before = server.stats().calls
        for _ in range(rounds):
            started = time.process_time()
            for index in range(runs):
                desk.handle(MESSAGES[index % len(MESSAGES)])
            per_round.append((time.process_time() - started) / runs * 1000)
        calls = (server.stats().calls - calls_before) / (runs * rounds)
    return {
        "cpu_ms_per_request": round(statistics.median(per_round), 2),
        "rounds_ms": [round(value, 2) for value in per_round],
        "hosted_calls_per_request": round(calls, 2),
        "speed_probe_ms": {"before": probe_before, "after": speed_probe_ms()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hosted_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.runs, args.rounds)
    from desk.console import out

    if args.json:
        out(json.dumps(result))
    else:
        out(
            f"CPU per hosted request: {result['cpu_ms_per_request']} ms (median of rounds {result['rounds_ms']}), "
            f"hosted calls per request {result['hosted_calls_per_request']}, speed probe {result['speed_probe_ms']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
