"""Where the CPU of one request goes, with the local model. Run by the `local` scenario as its own
process (`python -m bench.profiling`, plan on stdin, JSON on stdout) so crewai never loads into the
harness.

Sequential measurements in one quiet process, each after a warm-up (lazy imports, first-use caches):

1. `full`: N requests through the whole app in-process (FastAPI TestClient: JWT auth, rate limit,
   sanitising, SQLAlchemy + SQLite, audit chain, response models, and the crew), with the crew wrapped in
   a `RecordingCrew` that keeps every call the app makes (`classify` for the auto-emergency check, then
   `handle`) and its result. CPU = process CPU minus the test client's own thread. Kept for reference.
2. `api_layer`: the same N requests (repeated `api_repeats` times) through a second app whose crew, passed
   in through `create_app(crew=...)` (the `SupportCrew` seam, no monkeypatching), is a `ReplayCrew`: it
   answers each recorded call at once with the recorded result. The app does exactly the same work (same
   routes, auto-emergency decisions, case writes, sanitising of the same replies, audit lines), so its CPU
   *is* the API layer's own cost, measured directly rather than as the difference of two ~75-150 ms
   numbers (`full - crew`), which is noisier than the ~5 ms it is meant to show.
3. `crew`: the recorded calls replayed straight into `SupportDesk` (process CPU: CrewAI runs flow
   methods on its own threads, so only process-wide CPU counts them all).
4. A cProfile of that crew replay on every thread (`threading.setprofile` gives each new thread its own
   profiler): the top functions by self time, and self time per package, which splits the crew's CPU
   between CrewAI (+ pydantic/asyncio it drives), our local model and our crew glue.

Self time goes to the package of the code's module (`package_of`): our layers by name (`api`, `desk`,
`crew`, `security`; `crew.local_model` apart), `stdlib` (built-in functions included), and every other
package by its top-level name (`crewai`, `pydantic_core`, `sqlalchemy`, ...). The module comes from the
code object's file as Python imported it (`sys.modules`, else `sys.path`), never from path strings of this
repository's layout, so moving a file moves its time with it.

`ours` = API layer + our crew glue (its profiled share of `crew`); the local model is reported apart
(`local_model`) and is *not* counted in `ours` (as before: it stands in for a hosted model).
`ours_share` = ours / (api_layer + crew); `ours_share_with_local_model` adds the local model to `ours`.
`ours_share_by_job` counts only the jobs the issue lists as our code: a cProfile of step 2 (`API_JOBS`,
the time spent inside the modules and functions that do auth, limits, sanitising, case writes, audit and
the response, libraries they call included) plus the crew glue; the rest of the API layer
(`framework_and_rest`) is FastAPI, Starlette, anyio and asyncio handling the request, our middleware, and
the test client's portal plumbing.
Timings under cProfile are inflated several-fold for call-heavy code, so only shares are taken from the
profile, never times. Background work that runs per second rather than per request (the on-call worker
polls every ONCALL_WORKER_POLL_SECONDS) weighs less in the short instant-crew run than in `full`.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from bench.fake_crew import FakeCrew, HandleCall
from crew.models import Classification, Route, SupportCrew, SupportResult

if TYPE_CHECKING:
    from fastapi import FastAPI

# Our code, as top-level packages; `ours` in the shares is their sum (the local model is counted apart).
OUR_LAYERS = ("api", "desk", "crew", "security")
LOCAL_MODEL = "crew.local_model"  # stands in for a hosted model, so it is not "ours" in the shares
STDLIB = "stdlib"
# Blocking primitives: their "self time" under a wall-clock profiler is waiting, not CPU.
WAITING = ("acquire", "get' of '_queue", "select", "poll", "sleep", "wait", "join", "control' of 'select")
# cProfile names C functions by a label instead of a file: "<built-in method time.perf_counter>",
# "<method 'append' of 'list' objects>", "<method 'validate_python' of 'pydantic_core._pydantic_core.X' objects>".
_C_OWNER = re.compile(r"<(?:built-in method (?P<function>[\w.]+)|method '\w+' of '(?P<type>[\w.]+)' objects)")
_FROZEN = re.compile(r"<frozen (?P<module>[\w.]+)>")

ProfileKey = tuple[str, int, str]  # (file, first line, function name), as pstats keys them


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
    def active(self, include_caller: bool = True) -> Iterator[None]:
        main = cProfile.Profile()
        if include_caller:
            self.profiles.append(main)
        threading.setprofile(self._hook)
        if include_caller:
            main.enable()
        try:
            yield
        finally:
            main.disable()
            threading.setprofile(None)  # type: ignore[arg-type]

    def stats(self) -> pstats.Stats:
        with self._lock:
            profiles = [profile for profile in self.profiles if profile.getstats()]
        merged = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            merged.add(profile)
        return merged


class Modules:
    """The module each profiled function belongs to, from the file its code was loaded from."""

    def __init__(self) -> None:
        self._by_file: dict[str, str] = {}
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            # A module run as a script is also `__main__`: its name comes from sys.path below instead.
            if isinstance(filename, str) and name not in ("__main__", "__mp_main__"):
                self._by_file[os.path.realpath(filename)] = name
        # Longest first: site-packages lies inside the stdlib's folder, and the venv inside the checkout.
        roots = {os.path.realpath(entry) for entry in sys.path if entry and os.path.isdir(entry)}
        self._roots = sorted(roots, key=len, reverse=True)
        self._memo: dict[tuple[str, str], str] = {}

    def module(self, key: ProfileKey) -> str:
        filename, _line, function = key
        memo_key = (filename, function if filename == "~" else "")
        if memo_key not in self._memo:
            self._memo[memo_key] = self._module(filename, function)
        return self._memo[memo_key]

    def _module(self, filename: str, function: str) -> str:
        if filename == "~":
            match = _C_OWNER.match(function)
            dotted = (match.group("function") or match.group("type")) if match else ""
            return dotted.rpartition(".")[0] or "builtins"
        frozen = _FROZEN.match(filename)
        if frozen:
            return frozen.group("module")
        if filename.startswith("<"):
            return "<generated>"  # code made at run time (dataclass __init__, namedtuple, exec): no file
        path = os.path.realpath(filename)
        if path in self._by_file:
            return self._by_file[path]
        for root in self._roots:
            if path.startswith(root + os.sep):
                relative = os.path.splitext(path[len(root) + 1 :])[0]
                return relative.replace(os.sep, ".").removesuffix(".__init__")
        return "<unknown>"


def package_of(module: str) -> str:
    """The bucket a module's time goes to: our layer, `crew.local_model`, `stdlib`, or a package's name."""
    if module == LOCAL_MODEL or module.startswith(LOCAL_MODEL + "."):
        return LOCAL_MODEL
    top = module.split(".", 1)[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return STDLIB
    return top


def _busy(stats: pstats.Stats) -> dict[ProfileKey, Any]:
    raw: dict[ProfileKey, Any] = stats.stats  # type: ignore[attr-defined]
    return {key: value for key, value in raw.items() if not any(w in key[2] for w in WAITING)}


def _label(key: ProfileKey, modules: Modules) -> str:
    filename, line, function = key
    return function if filename == "~" else f"{modules.module(key)}:{line}({function})"


def package_shares(stats: pstats.Stats, modules: Modules | None = None) -> dict[str, float]:
    """Busy self time per package (`package_of`), as shares of all busy self time; largest first."""
    modules = modules or Modules()
    busy = _busy(stats)
    total = sum(value[2] for value in busy.values()) or 1e-9
    by_package: dict[str, float] = {}
    for key, value in busy.items():
        package = package_of(modules.module(key))
        by_package[package] = by_package.get(package, 0.0) + value[2]
    return {k: round(v / total, 4) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])}


def ours_share_of(shares: Mapping[str, float]) -> float:
    """The share of our layers (`OUR_LAYERS`) in package shares; the local model is not among them."""
    return sum(shares.get(layer, 0.0) for layer in OUR_LAYERS)


def profile_summary(stats: pstats.Stats, requests: int, top: int) -> dict[str, Any]:
    modules = Modules()
    busy = _busy(stats)
    total = sum(value[2] for value in busy.values()) or 1e-9
    rows = sorted(busy.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return {
        "self_share_by_package": package_shares(stats, modules),
        "top": [
            {
                "function": _label(key, modules),
                "package": package_of(modules.module(key)),
                "self_share": round(value[2] / total, 4),
                "calls_per_request": round(value[1] / requests, 1),
            }
            for key, value in rows
        ],
    }


# The API layer's jobs, each by the modules or functions ("module:function") that do it. A module counts
# with the time spent inside it from every call into it from outside; a function with its cumulative time.
# Either way the libraries they call (python-jose, limits, bleach, SQLAlchemy and sqlite3, hashlib) count to
# the job; what none of them covers is the web framework's request handling (FastAPI, Starlette, anyio,
# asyncio) and the middleware.
API_JOBS: dict[str, tuple[str, ...]] = {
    "auth": ("api.deps:get_current_user",),
    "rate_limit": ("desk.ratelimit",),
    "sanitising": ("security.sanitize",),
    "cases_db": ("desk.cases",),
    "audit": ("desk.audit",),
    "response": ("api.responses",),
}


def _in(module: str, target_module: str) -> bool:
    return module == target_module or module.startswith(target_module + ".")


def _target_time(raw: Mapping[ProfileKey, Any], modules: Modules, target: str) -> float:
    target_module, _, function = target.partition(":")
    seconds = 0.0
    for key, value in raw.items():
        if not _in(modules.module(key), target_module):
            continue
        if function:
            seconds += value[3] if key[2] == function.rpartition(".")[2] else 0.0
        else:  # calls from outside the module only, so its own nested calls are not counted twice
            callers: dict[ProfileKey, tuple[Any, ...]] = value[4]
            seconds += sum(
                times[3] for caller, times in callers.items() if not _in(modules.module(caller), target_module)
            )
    return seconds


def job_shares(stats: pstats.Stats, jobs: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Each job's time (its targets' time, see `API_JOBS`) as a share of all busy self time in `stats`."""
    modules = Modules()
    raw: dict[ProfileKey, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(value[2] for value in _busy(stats).values()) or 1e-9
    return {
        job: round(sum(_target_time(raw, modules, target) for target in targets) / total, 4)
        for job, targets in jobs.items()
    }


@dataclass(frozen=True)
class CrewCall:
    """One call the app made on its crew, with what the crew answered."""

    message: str
    result: Classification | SupportResult
    handle_kwargs: dict[str, Any] | None = None  # None: a `classify` call

    def replay(self, crew: SupportCrew) -> None:
        if self.handle_kwargs is None:
            crew.classify(self.message)
        else:
            crew.handle(self.message, **self.handle_kwargs)


class RecordingCrew(FakeCrew):
    """The real crew, plus a record of every call made on it with the real crew's answer (the app hands
    requests to the crew only through the `SupportCrew` methods, so the record is exactly the crew's share
    of the requests)."""

    def __init__(self, crew: SupportCrew) -> None:
        super().__init__()
        self.crew = crew
        self.recorded: list[CrewCall] = []

    def classify(self, message: str) -> Classification:
        result = self.crew.classify(message)
        self.recorded.append(CrewCall(message, result))
        return result

    def answer(self, call: HandleCall) -> SupportResult:
        kwargs: dict[str, Any] = {**call}
        message = kwargs.pop("message")
        result = self.crew.handle(message, **kwargs)
        self.recorded.append(CrewCall(message, result, kwargs))
        return result


class ReplayCrew(FakeCrew):
    """An instant crew: answers each call the recording saw with the recorded result (same route, same
    classification, same reply and citations), so the app around it does the same work as with the real
    crew, minus the crew. An unrecorded call is a bug in the harness, not something to paper over."""

    def __init__(self, calls: Sequence[CrewCall]) -> None:
        super().__init__()
        self._classified: dict[str, Classification] = {}
        self._handled: dict[tuple[str, Route, bool], SupportResult] = {}
        for call in calls:
            if isinstance(call.result, Classification):
                self._classified[call.message] = call.result
            elif call.handle_kwargs is not None:
                key = (call.message, call.handle_kwargs["route"], call.handle_kwargs["emergency"])
                self._handled[key] = call.result

    def classify(self, message: str) -> Classification:
        return self._classified[message]

    def answer(self, call: HandleCall) -> SupportResult:
        return self._handled[(call["message"], call["route"], call["emergency"])]


def app_cpu(
    app: FastAPI,
    items: Sequence[dict[str, Any]],
    warmup: Sequence[dict[str, Any]],
    credentials: dict[str, str] | str,
    before_measuring: Callable[[], object] | None = None,
) -> float:
    """Process CPU seconds of sending `items` through `app` in-process, minus the test client's thread.
    `credentials`: a username and password to log in with, or a bearer token."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        # Log in once, before measuring: argon2 is a per-login cost, not a per-request one.
        token = (
            credentials
            if isinstance(credentials, str)
            else client.post("/auth/token", data=credentials).json()["access_token"]
        )
        headers = {"Authorization": f"Bearer {token}"}
        for item in warmup:
            client.post(item["path"], json=item["json"], headers=headers).raise_for_status()
        if before_measuring is not None:
            before_measuring()
        process_before, client_before = time.process_time(), time.thread_time()
        for item in items:
            client.post(item["path"], json=item["json"], headers=headers).raise_for_status()
        return (time.process_time() - process_before) - (time.thread_time() - client_before)


def request_profile(
    app: FastAPI, items: Sequence[dict[str, Any]], warmup: Sequence[dict[str, Any]], credentials: dict[str, str] | str
) -> pstats.Stats:
    """A cProfile of sending `items` (after `warmup`) through `app` in-process, on every thread but the test
    client's calling thread: the app runs on the client's portal thread and on worker threads."""
    profiles = ThreadProfiles()
    with profiles.active(include_caller=False):
        app_cpu(app, items, warmup, credentials)
    return profiles.stats()


def profile(plan: dict[str, Any]) -> dict[str, Any]:
    from api.app import create_app
    from crew.service import SupportDesk
    from desk.settings import Settings
    from security.tokens import create_access_token

    settings = Settings()
    desk = SupportDesk.from_config(settings.crew_config())
    requests: list[dict[str, Any]] = plan["requests"]
    count = int(plan["count"])
    repeats = max(1, int(plan.get("api_repeats", 5)))
    chosen = [requests[i % len(requests)] for i in range(count)]
    warmup = chosen[: int(plan["warmup"])]
    credentials = {"username": plan["username"], "password": plan["password"]}

    # 1. The whole app with the real crew; the record keeps only the measured requests' calls.
    recorder = RecordingCrew(desk)
    full_cpu = app_cpu(create_app(settings, crew=recorder), chosen, warmup, credentials, recorder.recorded.clear)
    calls = list(recorder.recorded)

    # 2. The same requests through the app with an instant crew: the API layer alone.
    api_app = create_app(settings, crew=ReplayCrew(calls))
    api_cpu = app_cpu(api_app, chosen * repeats, warmup, credentials) / repeats
    # 2b. Where the API layer's CPU goes (shares only), over as many requests as step 2. The calling
    # thread is the test client's and is left out; the app runs on the client's portal thread and the
    # worker threads. The token is signed here: a login's argon2 would be a large one-off in the profile.
    token, _ = create_access_token(
        subject=plan["username"],
        role="integrator",
        customer_id=None,
        secret=settings.secret_key.get_secret_value(),
        algorithm=settings.algorithm,
        expires_minutes=60,
    )
    api_stats = request_profile(create_app(settings, crew=ReplayCrew(calls)), chosen * repeats, warmup, token)
    api_summary = profile_summary(api_stats, count * repeats, int(plan.get("top", 15)))
    api_jobs = job_shares(api_stats, API_JOBS)
    api_jobs_ms = {job: round(share * api_cpu * 1000 / count, 3) for job, share in api_jobs.items()}
    jobs_cpu = sum(api_jobs.values()) * api_cpu
    api_jobs_ms["framework_and_rest"] = round(api_cpu * 1000 / count - sum(api_jobs_ms.values()), 3)

    # 3. The crew alone, on exactly the calls the app made.
    process_before = time.process_time()
    for call in calls:
        call.replay(desk)
    crew_cpu = time.process_time() - process_before
    model_calls = sum(c.result.model_calls for c in calls if isinstance(c.result, SupportResult))

    # 4. Where the crew's CPU goes (shares only).
    profiles = ThreadProfiles()
    with profiles.active():
        for call in calls:
            call.replay(desk)
    summary = profile_summary(profiles.stats(), count, int(plan.get("top", 15)))
    shares = summary["self_share_by_package"]
    glue_cpu = crew_cpu * ours_share_of(shares)
    model_cpu = crew_cpu * shares.get(LOCAL_MODEL, 0.0)
    ours_cpu = api_cpu + glue_cpu
    total = api_cpu + crew_cpu
    per_request = {
        "full": full_cpu,
        "crew": crew_cpu,
        "api_layer": api_cpu,
        "crew_glue": glue_cpu,
        "local_model": model_cpu,
        "crewai_and_libraries": max(0.0, crew_cpu - glue_cpu - model_cpu),
        # The old, indirect estimate of the API layer, for comparison with the direct one.
        "full_minus_crew": full_cpu - crew_cpu,
    }
    return {
        "requests": count,
        "api_layer_requests": count * repeats,
        "cpu_ms_per_request": {k: round(v * 1000 / count, 2) for k, v in per_request.items()},
        "ours_parts": ["api_layer", "crew_glue"],
        "ours_share": round(ours_cpu / total, 4) if total > 0 else 0.0,
        "ours_share_with_local_model": round((ours_cpu + model_cpu) / total, 4) if total > 0 else 0.0,
        # The issue's own list of our code (auth, limits, sanitising, database, audit, routing glue), without
        # the web framework's request handling that the strict `ours_share` also counts as ours.
        "ours_share_by_job": round((jobs_cpu + glue_cpu) / total, 4) if total > 0 else 0.0,
        "model_calls_per_request": round(model_calls / count, 2),
        "api_layer_self_share_by_package": api_summary["self_share_by_package"],
        "api_layer_ms_by_job": api_jobs_ms,
        "api_layer_top": api_summary["top"],
        **summary,
    }


def main() -> int:
    plan = json.load(sys.stdin)
    json.dump(profile(plan), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
