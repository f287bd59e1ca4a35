"""No customer text left on disk by CrewAI: checked in a fresh process whose HOME is a temporary directory.

CrewAI 1.15 writes every task's inputs and outputs to `latest_kickoff_task_outputs.db` under
`~/.local/share/<CREWAI_STORAGE_DIR>/`. The desk's crews (`PrivateCrew`) must not; a plain CrewAI crew run
in the same process is the control that proves the scan would have found the text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
DESK_MARKER = "zq-desk-marker-7f3a91"
CONTROL_MARKER = "zq-control-marker-c81e4d"

SCRIPT = textwrap.dedent(
    f"""
    import os
    from pathlib import Path
    from crew.config import CrewConfig
    from crew.models import Route, ThreadMessage
    from crew.service import SupportDesk

    desk = SupportDesk.from_config(CrewConfig(storage_dir=Path(os.environ["CREWAI_STORAGE_DIR"])))
    earlier = [ThreadMessage(author="customer", text="{DESK_MARKER} earlier message")]
    desk.handle("{DESK_MARKER} I was charged twice this month", history=earlier)
    desk.handle("{DESK_MARKER} I was charged twice. Also the app crashes when I log in.")
    desk.handle("{DESK_MARKER} my lawyer will sue", route=Route.BILLING, emergency=True)
    desk.classify("{DESK_MARKER} refund please")

    # Control: the same agents and tasks in a plain CrewAI Crew do write the customer's text to disk.
    from crewai import Crew
    from crew.crews import ClassifierCrew

    ours = ClassifierCrew(desk.parts).crew()
    Crew(agents=ours.agents, tasks=ours.tasks).kickoff(inputs={{"message": "{CONTROL_MARKER} charged twice"}})
    """
)


def _files_containing(root: Path, marker: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and marker in path.read_bytes()]


def _run_fresh(script: str, tmp_path: Path, drop_prefixes: tuple[str, ...]) -> str:
    """Run `script` in a new interpreter whose HOME and CrewAI storage are under `tmp_path`; its stdout."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.update(
        HOME=str(home),
        CREWAI_STORAGE_DIR=str(tmp_path / "storage"),
        PYTHONPATH=str(REPO_ROOT),
        LOG_FILE=str(tmp_path / "logs" / "app.log"),
        AUDIT_LOG_FILE=str(tmp_path / "logs" / "audit.log"),
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_no_file_under_home_or_storage_holds_the_customer_message(tmp_path: Path) -> None:
    _run_fresh(SCRIPT, tmp_path, ("XDG_", "CREWAI_STORAGE"))

    assert _files_containing(tmp_path, DESK_MARKER.encode()) == []
    control_hits = _files_containing(tmp_path, CONTROL_MARKER.encode())
    assert any(path.name.startswith("latest_kickoff_task_outputs.db") for path in control_hits), (
        "the control crew should have written its input: the scan or the HOME redirection is broken"
    )
    # Everything CrewAI wrote went to the configured storage directory, none of it under ~/.local/share.
    assert all((tmp_path / "storage") in path.parents for path in control_hits)


TRACE_SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path
    from crew.config import CrewConfig
    from crew.service import SupportDesk

    desk = SupportDesk.from_config(CrewConfig(storage_dir=Path(os.environ["CREWAI_STORAGE_DIR"])))
    desk.handle("I was charged twice this month")

    from crewai.events import crewai_event_bus
    from crewai.events.listeners.tracing.utils import should_auto_collect_first_time_traces

    modules = {h.__module__ for handlers in crewai_event_bus._sync_handlers.values() for h in handlers}
    report = {"auto_collect": should_auto_collect_first_time_traces(), "modules": sorted(modules)}
    sys.stdout.write(json.dumps(report) + "\\n")
    """
)


def test_a_fresh_storage_dir_does_not_make_crewai_collect_first_run_traces(tmp_path: Path) -> None:
    # Without a user-data file CrewAI takes the desk for a first-time user and collects every run's
    # events (the customer's message included) to offer an upload; the desk declines that for it.
    stdout = _run_fresh(TRACE_SCRIPT, tmp_path, ("XDG_", "CREWAI_"))
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["auto_collect"] is False
    assert not [module for module in report["modules"] if "tracing" in module], report["modules"]
