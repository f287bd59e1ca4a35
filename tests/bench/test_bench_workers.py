"""`support-desk bench --scenario workers --scenario crash --quick`: both run once with tiny counts (Redis as
broker; skipped with the reason where it is absent) and report what the issue asks for. No timing asserted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from bench.commands import bench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench-workers")
    namespace = argparse.Namespace(
        scenario=["workers", "crash"],
        json=True,
        out=str(out),
        quick=True,
        workers=1,
        redis_url="redis://127.0.0.1:6379/15",
        worker_database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    code = bench(namespace)
    document = json.loads((Path(out) / "results.json").read_text())
    by_name = {r["scenario"]: r for r in document["scenarios"]}
    for result in by_name.values():
        if "skipped" in result:
            pytest.skip(result["skipped"])
    return {"code": code, **by_name}


def test_workers_runs_in_request_and_on_worker_processes_side_by_side(results: dict[str, Any]) -> None:
    assert results["code"] == 0
    levels = results["workers"]["levels"]
    assert [(level["mode"], level["worker_processes"]) for level in levels] == [
        ("in-request", 0),
        ("workers", 1),
        ("workers", 2),
    ]
    for level in levels:
        assert level["ok"] > 0 and level["errors"] == {}
        assert level["measured_over_ideal"] > 0 and level["api_cpu_ms_per_request"] > 0
    assert all(level["worker_cpu_ms_per_request"] > 0 for level in levels[1:])
    assert {t["target"].split(" (")[0] for t in results["workers"]["targets"]} >= {"errors"}


def test_crash_loses_no_case_after_kill_9_of_a_worker(results: dict[str, Any]) -> None:
    crash = results["crash"]
    assert crash["accepted"] == 4
    assert crash["lost"] == 0
    assert crash["answered"] + crash["failed"] == crash["accepted"]
    assert crash["resumed"] >= 1  # the killed worker's jobs ran again elsewhere
