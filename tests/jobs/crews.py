"""Crew factories for worker processes the tests start (`support-desk worker --crew-factory tests.jobs.crews:...`):
the worker builds its crew from a `module:function`, so a test can give it a fake one."""

from __future__ import annotations

import os

from bench.fake_crew import FakeCrew
from desk.settings import Settings


def slow_crew(settings: Settings) -> FakeCrew:
    """Each answer takes TEST_CREW_DELAY seconds (0 by default), like a model call."""
    return FakeCrew(delay=float(os.environ.get("TEST_CREW_DELAY", "0")), urgent_markers=("hacked",))
