"""`support-desk bench --quick`: every scenario runs once with tiny counts and produces sane numbers.

One bench run for the module (each scenario starts its own API process, ~10 s of imports each), then
checks per scenario. No test asserts a timing: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from bench.commands import SCENARIOS, bench
from bench.fake_answers import completion
from bench.stats import Sample, steady_throughput

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench-out")
    namespace = argparse.Namespace(
        scenario=None,
        json=True,
        out=str(out),
        quick=True,
        workers=2,
        redis_url="redis://127.0.0.1:6379/15",
        worker_database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    code = bench(namespace)
    document = json.loads((out / "results.json").read_text())
    return {"code": code, "out": out, "by_name": {r["scenario"]: r for r in document["scenarios"]}, **document}


def _levels_sane(result: dict[str, Any]) -> None:
    assert result["levels"]
    for level in result["levels"]:
        assert level["requests"] == level["ok"] + sum(level["errors"].values())
        assert level["ok"] > 0
        assert level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"] <= level["max_ms"]
        assert level["throughput_rps"] > 0
        assert level["cpu_ms_per_request"] > 0
        assert level["peak_rss_mb"] > 50
        assert len(level["latencies_ms"]) == level["ok"]


def test_every_scenario_ran_and_wrote_results(run: dict[str, Any]) -> None:
    assert run["code"] == 0, [r.get("error") for r in run["scenarios"]]
    assert set(run["by_name"]) == set(SCENARIOS)
    assert run["machine"]["cpus"] >= 1 and run["quick"] is True
    assert all(v > 0 for v in run["machine"]["python_loop_probe"].values())
    for result in run["scenarios"]:
        assert "error" not in result
        assert all({"target", "wanted", "measured", "met"} <= set(t) for t in result["targets"])


def test_local_levels_and_profile(run: dict[str, Any]) -> None:
    local = run["by_name"]["local"]
    _levels_sane(local)
    assert not any(level["errors"] for level in local["levels"])
    profile = local["profile"]
    assert profile["model_calls_per_request"] >= 2  # classify + answer at least
    assert 0 <= profile["ours_share"] <= 1
    # The list of our jobs is a part of everything outside CrewAI, never more.
    assert 0 < profile["ours_share_by_job"] <= profile["ours_share"]
    jobs = profile["api_layer_ms_by_job"]
    assert {"auth", "rate_limit", "sanitising", "cases_db", "audit"} <= set(jobs) and jobs["cases_db"] > 0
    assert profile["top"] and abs(sum(profile["self_share_by_package"].values()) - 1) < 0.01
    # Our crew glue and the local model have CPU of their own (attributed by package, whatever the paths).
    assert profile["cpu_ms_per_request"]["crew_glue"] > 0 and profile["cpu_ms_per_request"]["local_model"] > 0
    assert profile["api_layer_self_share_by_package"]["api"] > 0
    assert (run["out"] / "local.png").stat().st_size > 1000


@pytest.mark.parametrize("name", ["hosted-slow", "hybrid"])
def test_hosted_scenarios_count_model_calls(run: dict[str, Any], name: str) -> None:
    result = run["by_name"][name]
    _levels_sane(result)
    for level in result["levels"]:
        assert not level["errors"]
        assert level["hosted_calls"] >= level["ok"]  # every request made at least one hosted call
        assert level["ideal_rps"] > 0 and level["measured_over_ideal"] > 0
        assert 1 <= level["fake_peak_in_flight"] <= level["concurrency"] * 2
    probe = result["non_complex"]
    assert probe["ok"] == probe["requests"] and probe["non_complex"] > 0
    assert (run["out"] / f"{name}.png").exists()
    # The top level again on two API processes sharing Redis limits and PostgreSQL, or a plain reason why not.
    multi = [level for level in result["levels"] if level["workers"] == 2]
    assert len(multi) == 1 or "unreachable" in result["multi_worker_skipped"]


def test_hybrid_makes_fewer_hosted_calls_than_hosted_slow(run: dict[str, Any]) -> None:
    hosted = run["by_name"]["hosted-slow"]["non_complex"]["hosted_calls_per_request"]
    hybrid = run["by_name"]["hybrid"]["non_complex"]["hosted_calls_per_request"]
    assert hybrid < hosted  # the local classifier saves one hosted call per request


def test_ratelimit_burster_gets_exactly_its_limit(run: dict[str, Any]) -> None:
    result = run["by_name"]["ratelimit"]
    burst = result["burst"]
    assert burst["accepted"] == result["limit_per_minute"]
    assert burst["accepted"] + burst["rejected_429"] == burst["sent"] and not burst["other"]
    assert result["calm_baseline"]["errors"] == {} and result["calm_during_burst"]["errors"] == {}


def test_startup_reports_ready_time_and_rss(run: dict[str, Any]) -> None:
    result = run["by_name"]["startup"]
    assert 0 < result["listening_seconds"][0] <= result["ready_seconds"][0]
    assert result["idle_rss_mb_per_process"][0] > 50


def test_fake_model_answers_each_prompt_kind() -> None:
    fenced = "<customer_message>\nI was charged twice and also the app crashes\n</customer_message>"
    classify = completion(
        {
            "messages": [{"role": "user", "content": f"Task: classify_request\n{fenced}"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "Classification"}},
        }
    )
    parsed = json.loads(classify["choices"][0]["message"]["content"])
    assert parsed["is_complex"] is True and parsed["category"] == "billing"
    tools = [{"type": "function", "function": {"name": "search_knowledge_base"}}]
    first = completion({"messages": [{"role": "user", "content": f"Task: answer_billing\n{fenced}"}], "tools": tools})
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    second = completion(
        {
            "tools": tools,
            "messages": [{"role": "user", "content": fenced}, {"role": "tool", "content": "[KB-005] Duplicate charge"}],
        }
    )
    assert "[KB-005]" in second["choices"][0]["message"]["content"]


def test_steady_window() -> None:
    samples = [Sample(200, 0.0, 0.5), Sample(200, 0.5, 1.5), Sample(500, 1.0, 1.6), Sample(200, 1.5, 2.5)]
    assert steady_throughput(samples, 1.0, 2.0) == 1.0  # one success inside the window [1, 2]
    assert Path(__file__).name == "test_bench.py"


def test_the_hosted_cpu_bench_runs_the_crew_on_the_fake_server_with_two_hosted_calls() -> None:
    from bench.hosted_cpu import measure

    result = measure(runs=4, rounds=2)
    assert result["hosted_calls_per_request"] == 2.0  # classifier and specialist, both hosted
    assert len(result["rounds_ms"]) == 2  # type: ignore[arg-type]
    assert result["cpu_ms_per_request"] > 0  # type: ignore[operator]
