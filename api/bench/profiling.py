"""Where the CPU of one request goes, with the local model. Run by the `local` scenario as its own
process (`python -m api.bench.profiling`, plan on stdin, JSON on stdout) so crewai never loads into the
harness.

Three sequential measurements in one quiet process, after a warm-up (lazy imports, first-use caches):

1. `full`: N requests through the whole app in-process (FastAPI TestClient: JWT auth, rate limit,
   sanitising, SQLAlchemy + SQLite, audit chain, response models, and the crew). CPU = process CPU minus
   the test client's own thread.
2. `crew`: the same N messages straight into `SupportDesk.handle` (process CPU: CrewAI runs flow
   methods on its own threads, so only process-wide CPU counts them all).
3. A cProfile of the crew run on every thread (`threading.setprofile` gives each new thread its own
   profiler): the top functions by self time, and self time per package, which splits the crew's CPU
   between CrewAI (+ pydantic/asyncio it drives), our local model and our crew glue.

`ours` = API layer (`full - crew`) + our crew glue (its profiled share of `crew`). Timings under cProfile
are inflated several-fold for call-heavy code, so only shares are taken from the profile, never times.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUR_DIRS = tuple(str(REPO / name) + "/" for name in ("api", "crew", "security"))
# Blocking primitives: their "self time" under a wall-clock profiler is waiting, not CPU.
WAITING = ("acquire", "get' of '_queue", "select", "poll", "sleep", "wait", "join", "control' of 'select")


class ThreadProfiles:
    """A cProfile per thread started while active, plus the thread that activates it."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook for the thread: cProfile takes over from here

    @contextmanager
    def active(self) -> Iterator[None]:
        main = cProfile.Profile()
        self.profiles.append(main)
        threading.setprofile(self._hook)
        main.enable()
        try:
            yield
        finally:
            main.disable()
            threading.setprofile(None)  # type: ignore[arg-type]

    def stats(self) -> pstats.Stats:
        with self._lock:
            profiles = list(self.profiles)
        merged = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            merged.add(profile)
        return merged


def owner(filename: str) -> str:
    if "/site-packages/crewai/" in filename:
        return "crewai"
    if filename.startswith(str(REPO / "crew" / "local_model")):
        return "local_model"
    if filename.startswith(OUR_DIRS):
        return "ours"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "python"


def _label(filename: str, line: int, function: str) -> str:
    return function if filename == "~" else f"{Path(filename).name}:{line}({function})"


def profile_summary(stats: pstats.Stats, requests: int, top: int) -> dict[str, Any]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    busy = {key: value for key, value in raw.items() if not any(w in key[2] for w in WAITING)}
    total = sum(value[2] for value in busy.values()) or 1e-9
    by_owner: dict[str, float] = {}
    for (filename, _line, _function), value in busy.items():
        by_owner[owner(filename)] = by_owner.get(owner(filename), 0.0) + value[2]
    rows = sorted(busy.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return {
        "self_share_by_package": {k: round(v / total, 4) for k, v in sorted(by_owner.items(), key=lambda kv: -kv[1])},
        "top": [{
            "function": _label(*key), "owner": owner(key[0]),
            "self_share": round(value[2] / total, 4),
            "calls_per_request": round(value[1] / requests, 1),
        } for key, value in rows],
    }


def profile(plan: dict[str, Any]) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from crew.service import SupportDesk
    from crew.settings import Settings

    settings = Settings()
    desk = SupportDesk.from_settings(settings)
    app = create_app(settings, crew=desk)
    requests: list[dict[str, Any]] = plan["requests"]
    count = int(plan["count"])
    chosen = [requests[i % len(requests)] for i in range(count)]
    credentials = {"username": plan["username"], "password": plan["password"]}

    with TestClient(app) as client:
        # Log in once, before measuring: argon2 is a per-login cost, not a per-request one.
        headers = {"Authorization": f"Bearer {client.post('/auth/token', data=credentials).json()['access_token']}"}
        for item in chosen[: int(plan["warmup"])]:
            client.post(item["path"], json=item["json"], headers=headers).raise_for_status()
        process_before, client_before = time.process_time(), time.thread_time()
        for item in chosen:
            client.post(item["path"], json=item["json"], headers=headers).raise_for_status()
        full_cpu = (time.process_time() - process_before) - (time.thread_time() - client_before)

    model_calls = 0
    process_before = time.process_time()
    for item in chosen:
        model_calls += desk.handle(item["json"]["message"]).model_calls
    crew_cpu = time.process_time() - process_before

    profiles = ThreadProfiles()
    with profiles.active():
        for item in chosen:
            desk.handle(item["json"]["message"])
    summary = profile_summary(profiles.stats(), count, int(plan.get("top", 15)))
    shares = summary["self_share_by_package"]
    glue_cpu = crew_cpu * shares.get("ours", 0.0)
    model_cpu = crew_cpu * shares.get("local_model", 0.0)
    api_cpu = max(0.0, full_cpu - crew_cpu)
    ours = api_cpu + glue_cpu
    per_request = {
        "full": full_cpu, "crew": crew_cpu, "api_layer": api_cpu, "crew_glue": glue_cpu, "local_model": model_cpu,
        "crewai_and_libraries": max(0.0, crew_cpu - glue_cpu - model_cpu),
    }
    return {
        "requests": count,
        "cpu_ms_per_request": {k: round(v * 1000 / count, 2) for k, v in per_request.items()},
        "ours_share": round(ours / full_cpu, 4) if full_cpu > 0 else 0.0,
        "model_calls_per_request": round(model_calls / count, 2),
        **summary,
    }


def main() -> int:
    plan = json.load(sys.stdin)
    json.dump(profile(plan), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
