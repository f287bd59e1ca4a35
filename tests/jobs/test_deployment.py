"""deploy/Procfile, started here as a process manager would: the API, a crew worker and a paging worker on
one broker and one database; a request filed at the API is answered by the worker, and /readyz reports it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.api_process import free_port, wait_ready
from tests.jobs.conftest import job_env, wait_until

PROCFILE = Path(__file__).resolve().parents[2] / "deploy" / "Procfile"
pytestmark = pytest.mark.slow


def procfile() -> dict[str, str]:
    entries = {}
    for line in PROCFILE.read_text().splitlines():
        match = re.match(r"^([a-z]+):\s*(.+)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def test_the_procfile_names_the_processes_of_the_layout() -> None:
    assert set(procfile()) == {"api", "crew", "paging", "web"}
    assert "--queues crew" in procfile()["crew"] and "--queues paging" in procfile()["paging"]


def test_the_procfile_runs_the_desk_on_workers(tmp_path: Path, redis_broker: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        **job_env(tmp_path, redis_broker, test_crew_delay=0),
        "PORT": str(port),
        "API_HOST": "127.0.0.1",
        "API_PROCESSES": "1",
        "WORKER_CONCURRENCY": "4",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",  # support-desk of this venv
        "PYTHONPATH": str(PROCFILE.parents[1]),  # the fake crew lives in tests/
    }
    entries = procfile()
    # The crew worker gets the fake crew (a real one would import CrewAI: seconds and no model here).
    commands = {
        "api": entries["api"],
        "crew": entries["crew"] + " --crew-factory tests.jobs.crews:slow_crew",
        "paging": entries["paging"],
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            with (tmp_path / f"{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        ["/bin/sh", "-c", f"exec {command}"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        cwd=tmp_path,
                    )
                )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, processes[0], 120.0, log=lambda: (tmp_path / "api.log").read_text(errors="replace")[-2000:])
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "users",
                "create",
                "--username",
                "int",
                "--role",
                "integrator",
                "--password-stdin",
            ],
            input=b"longenough-password\n",
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        with httpx.Client(base_url=base, timeout=30.0) as client:
            token = client.post("/auth/token", data={"username": "int", "password": "longenough-password"}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            ready = wait_until(
                lambda: len((r := client.get("/readyz").json()).get("jobs", {}).get("workers") or []) >= 2 and r,
                60,
                "both workers answering",
                lambda: (tmp_path / "crew.log").read_text(errors="replace")[-2000:],
            )
            answered = client.post(
                "/support/request",
                json={"message": "refund my duplicate charge", "customer_id": "c-1"},
                headers=headers,
            )
        assert ready["jobs"]["mode"] == "celery" and ready["checks"]["broker"] == "ok"
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "answered"
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
