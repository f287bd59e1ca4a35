"""Import crewai quietly, offline and without leaving customer text on disk.

CrewAI reads its switches from the environment, some of them at import time, so they must be set before
the first `import crewai` anywhere in the process. `load_crewai(config)` is the one entry point:

- telemetry, trace upload and the package-index version check are off (without network the version check
  blocked the first Flow kickoff for ~24 s and telemetry delayed exit by 11-21 s). `setdefault`, so a
  deployment can still turn them on deliberately.
- `CREWAI_STORAGE_DIR` is made absolute. CrewAI joins it under `~/.local/share/`, and an absolute path
  wins that join, so everything CrewAI writes lands in the directory the config names.
- The kickoff-outputs database (`latest_kickoff_task_outputs.db`, which stores every task's inputs and
  outputs, i.e. the customer's message and our reply) has no off switch in CrewAI 1.15. `PrivateCrew`
  (`crew.compat.crewai_internals`) replaces its storage handler with one that keeps nothing, so the file
  is never created. That handler only serves `crewai replay`, which the desk does not offer.
- CrewAI treats a storage directory without its user-data file as a "first-time user": it registers ~50
  trace handlers on its event bus, collects every run's events (prompts and answers included) in memory,
  and at the end of a run offers to upload them. `CREWAI_TRACING_ENABLED=false` does not stop that. The
  desk records in that file that trace collection was declined (unless a deployment turned tracing on):
  no trace handlers, no collected customer text, and ~50 fewer event-bus thread hand-offs per request.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from crew.config import CrewConfig

OFFLINE_SWITCHES: dict[str, str] = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    # Older spelling still read by parts of crewai's telemetry code.
    "CREWAI_DISABLE_TRACKING": "true",
}


def configure_environment(config: CrewConfig) -> None:
    """Set CrewAI's environment switches. Safe to call repeatedly; cheap; does not import crewai."""
    for name, value in OFFLINE_SWITCHES.items():
        os.environ.setdefault(name, value)
    # Overwrite rather than setdefault: it is our own setting (the desk reads it from the same variable
    # name), only made absolute.
    storage_dir = config.storage_dir.expanduser().resolve()
    storage_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CREWAI_STORAGE_DIR"] = str(storage_dir)


def load_crewai(config: CrewConfig) -> ModuleType:
    """Configure the environment, then import and return the `crewai` package (~5 s the first time)."""
    configure_environment(config)
    # Before the import: crewai's event listener sets its trace handlers up when it is imported.
    decline_first_run_traces()
    return importlib.import_module("crewai")


def decline_first_run_traces() -> None:
    """Record in CrewAI's user data (under CREWAI_STORAGE_DIR) that trace collection is declined."""
    if os.environ.get("CREWAI_TRACING_ENABLED", "").lower() == "true":
        return
    from crewai_core.user_data import has_user_declined_tracing, update_user_data

    if not has_user_declined_tracing():
        update_user_data({"first_execution_done": True, "trace_consent": False})
