"""The bench's own parts: the one percentile, the shared fake crew, and where the profile puts CPU time."""

from __future__ import annotations

import importlib
import random
import statistics
import threading
import time
from pathlib import Path

import pytest

from bench.fake_crew import FakeCrew, instant_crew
from bench.profiling import API_JOBS, LOCAL_MODEL, STDLIB, Modules, package_of
from bench.stats import median, percentile
from crew.models import Category, Priority, Route, ThreadMessage


def test_percentile_interpolates_linearly_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5 == median([4.0, 1.0, 3.0, 2.0])
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([10.0, 20.0], 0) == 10.0 and percentile([10.0, 20.0], 100) == 20.0
    assert percentile([7.0], 95) == 7.0 and percentile([], 95) == 0.0
    values = [random.Random(4).uniform(0, 100) for _ in range(37)]
    # The same definition as statistics.quantiles(method="inclusive") (and numpy's default).
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert [percentile(values, q) for q in range(1, 100)] == pytest.approx(cuts)
    with pytest.raises(ValueError):
        percentile(values, 950)


def test_fake_crew_answers_records_and_classifies_as_configured() -> None:
    crew = FakeCrew(urgent_markers=("hacked",), reply=lambda message, history: f"{message}/{len(history)}")
    earlier = [ThreadMessage(author="customer", text="hello")]
    result = crew.handle("my account was hacked", history=earlier)
    assert result.reply == "my account was hacked/1" and result.agent_type is Route.ESCALATION
    assert result.classification.priority is Priority.URGENT and crew.classify_calls == 1
    given = crew.classify("invoice")
    forced = crew.handle("invoice", route=Route.TECHNICAL, classification=given)
    assert forced.agent_type is Route.TECHNICAL and forced.classification.category is Category.BILLING
    assert crew.classify_calls == 2  # a classification handed in is used, not made again
    assert [(c["message"], c["route"], c["history"]) for c in crew.calls] == [
        ("my account was hacked", Route.AUTO, earlier),
        ("invoice", Route.TECHNICAL, []),
    ]
    assert crew.handle("x", emergency=True).agent_type is Route.ESCALATION
    assert instant_crew().handle("someone hacked me").classification.category is Category.ESCALATION


def test_fake_crew_delay_failure_and_block() -> None:
    started = time.perf_counter()
    FakeCrew(delay=0.05).handle("slow model")
    assert time.perf_counter() - started >= 0.05
    failing = FakeCrew(fail_with=RuntimeError("backend down"))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="backend down"):
            failing.handle("anything")
    assert len(failing.calls) == 2  # a failed call is still recorded
    blocked = FakeCrew(block_on="wait")
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(blocked.handle("please wait").reply))
    worker.start()
    worker.join(0.1)
    assert not done
    blocked.release.set()
    worker.join(5)
    assert done == [blocked.reply]


def test_profile_buckets_code_by_its_package_not_its_path() -> None:
    from bench import stats
    from crew.local_model import router
    from desk import cases

    modules = Modules()
    code = cases.insert_case.__code__
    assert modules.module((code.co_filename, code.co_firstlineno, code.co_name)) == "desk.cases"
    assert package_of(modules.module((stats.__file__, 1, "percentile"))) == "bench"
    assert package_of(modules.module((router.__file__, 1, "classify"))) == LOCAL_MODEL
    assert package_of(modules.module((statistics.__file__, 1, "median"))) == STDLIB
    assert package_of(modules.module((pytest.__file__, 1, "main"))) == "pytest"  # a third-party package
    assert modules.module(("~", 0, "<built-in method time.perf_counter>")) == "time"
    assert package_of(modules.module(("~", 0, "<method 'append' of 'list' objects>"))) == STDLIB
    label = "<method 'validate_python' of 'pydantic_core._pydantic_core.SchemaValidator' objects>"
    assert package_of(modules.module(("~", 0, label))) == "pydantic_core"


@pytest.mark.parametrize("job", sorted(API_JOBS))
def test_every_api_job_names_code_that_exists(job: str) -> None:
    # A renamed module or function would silently count 0 ms for its job in the profile.
    for target in API_JOBS[job]:
        module_name, _, qualname = target.partition(":")
        found: object = importlib.import_module(module_name)
        for part in filter(None, qualname.split(".")):
            found = getattr(found, part)
        assert callable(found) or not qualname, target


@pytest.mark.slow
def test_one_request_through_the_app_spends_time_in_api_desk_and_crew(tmp_path: Path) -> None:
    from api.app import create_app
    from bench.api_process import minted_integrator_token
    from bench.messages import payloads
    from bench.profiling import job_shares, package_shares, request_profile
    from crew.service import SupportDesk
    from tests.api.conftest import SECRET, make_settings

    settings = make_settings(
        tmp_path, crewai_storage_dir=tmp_path / "crewai", support_llm_model="", support_classifier_model=""
    )
    token = minted_integrator_token(settings.database_url, SECRET, settings.algorithm)
    app = create_app(settings, SupportDesk.from_config(settings.crew_config()))

    stats = request_profile(app, payloads()[:1], [], token)

    shares = package_shares(stats)
    assert shares["api"] > 0 and shares["desk"] > 0 and shares["crew"] > 0, shares
    assert shares["crewai"] > 0 and shares[STDLIB] > 0
    assert sum(shares.values()) == pytest.approx(1, abs=0.01)
    jobs = job_shares(stats, API_JOBS)
    assert jobs["auth"] > 0 and jobs["cases_db"] > 0 and jobs["audit"] > 0, jobs


def test_the_load_driver_records_answers_error_codes_and_requests_with_no_answer() -> None:
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.load import run_driver

    class Desk(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            busy = self.path == "/busy"
            body = b'{"code": "queue_full"}' if busy else b'{"agent_type": "billing"}'
            self.send_response(503 if busy else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    server = ThreadingHTTPServer(("127.0.0.1", 0), Desk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        requests = [{"path": path, "json": {"message": "hi"}, "token": "t"} for path in ("/ok", "/busy")]
        plan = {"base_url": f"http://127.0.0.1:{server.server_port}", "requests": requests}
        samples, _labels, _elapsed = run_driver(
            {**plan, "mode": "closed", "concurrency": 2, "duration": 30.0, "max_requests": 4}, 60.0
        )
        gone, _, _ = run_driver(
            {
                **plan,
                "base_url": f"http://127.0.0.1:{closed_port}",
                "mode": "closed",
                "concurrency": 1,
                "duration": 30.0,
                "max_requests": 1,
            },
            60.0,
        )
    finally:
        server.shutdown()
    assert sorted(s.status for s in samples) == [200, 200, 503, 503]
    assert {s.route for s in samples if s.status == 200} == {"billing"}
    assert {s.error_code for s in samples if s.status == 503} == {"queue_full"}
    assert [s.status for s in gone] == [0] and gone[0].error_code  # the exception's name


def test_the_sweep_benchmark_reads_its_backlog_once_then_only_what_is_due(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bench import sla_sweep

    assert sla_sweep.main(["--cases", "12", "--sweeps", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["cases"], result["watched_cases"], result["read_by_last_sweep"]) == (12, 12, 0)
    assert result["first_sweep_cpu_ms"] > 0 and result["sweep_cpu_ms_p50"] >= 0
