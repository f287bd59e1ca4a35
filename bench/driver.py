"""The load generator, run as its own process: `python -m bench.driver < plan.json > samples.json`.

A separate process keeps the client's CPU and GIL away from the harness and from the server it
measures. Two modes:

- `closed`: `concurrency` clients, each sending its next request as soon as the previous one answered,
  until `duration` seconds have passed or `max_requests` were sent (both bound the run);
- `paced`: independent streams (one per simulated customer), each sending `count` requests every
  `interval` seconds whatever the answers (open loop, so a slow answer does not slow the sender).

Output: `{"samples": [[status, started, finished, route, label, tag], ...], "elapsed": seconds}` with times
relative to the start; status 0 means no HTTP answer (timeout or connection error).

The client is aiohttp, not httpx: the driver shares the 2-core machine with the desk it measures, and with
httpx's pool at 128 clients it was the second largest CPU user there, ~18 ms of CPU per request, which held
the measured throughput down (docs/performance.md, "The load generator's share").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any

import aiohttp

Row = list[Any]


async def _send(session: aiohttp.ClientSession, origin: float, request: dict[str, Any], label: str) -> Row:
    started = time.perf_counter() - origin
    route = code = ""
    try:
        async with session.post(
            request["path"], json=request["json"], headers={"Authorization": f"Bearer {request['token']}"}
        ) as response:
            status = response.status
            body = await response.read()
        if status == 200:
            route = str(json.loads(body).get("agent_type", ""))
        else:
            code = _error_code(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        status, code = 0, type(exc).__name__  # e.g. ServerDisconnectedError, TimeoutError
    return [status, started, time.perf_counter() - origin, route, label, str(request.get("tag", "")), code]


def _error_code(body: bytes) -> str:
    """The error's machine-readable code (the desk's error JSON), so a report says which 503 it was."""
    try:
        found = json.loads(body)
    except ValueError:
        return ""
    return str(found.get("code", "")) if isinstance(found, dict) else ""


async def run_closed(session: aiohttp.ClientSession, plan: dict[str, Any]) -> list[Row]:
    requests = plan["requests"]
    counter = itertools.count()
    origin = time.perf_counter()
    deadline = origin + float(plan["duration"])
    limit = int(plan["max_requests"])
    rows: list[Row] = []

    async def client_loop() -> None:
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= limit:
                return
            rows.append(await _send(session, origin, requests[index % len(requests)], "closed"))

    await asyncio.gather(*(client_loop() for _ in range(int(plan["concurrency"]))))
    return rows


async def run_paced(session: aiohttp.ClientSession, plan: dict[str, Any]) -> list[Row]:
    origin = time.perf_counter()

    async def one(stream: dict[str, Any], index: int) -> Row:
        await asyncio.sleep(
            max(
                0.0, origin + float(stream.get("offset", 0.0)) + index * float(stream["interval"]) - time.perf_counter()
            )
        )
        return await _send(session, origin, stream, str(stream["label"]))

    jobs = [one(stream, i) for stream in plan["streams"] for i in range(int(stream["count"]))]
    return list(await asyncio.gather(*jobs))


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    # One connection per client (closed mode), as many as the plan's concurrency; paced streams share them.
    connector = aiohttp.TCPConnector(limit=int(plan.get("concurrency") or 64) + 8)
    timeout = aiohttp.ClientTimeout(total=float(plan.get("timeout", 120.0)))
    started = time.perf_counter()
    async with aiohttp.ClientSession(base_url=plan["base_url"], connector=connector, timeout=timeout) as session:
        rows = await (run_closed(session, plan) if plan["mode"] == "closed" else run_paced(session, plan))
    return {"samples": rows, "elapsed": time.perf_counter() - started}


def main() -> int:
    plan = json.load(sys.stdin)
    result = asyncio.run(run(plan))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
