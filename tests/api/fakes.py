"""Fake crews for API tests: the shared `bench.fake_crew.FakeCrew` (real `SupportResult`s, no crewai, no
model, every call recorded) and a crew whose every answer fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.fake_crew import FakeCrew

__all__ = ["FailingCrew", "FakeCrew"]


def _backend_exploded() -> Exception:
    # The internal detail is what the tests check never reaches a client.
    return RuntimeError("model backend exploded: secret internal detail /srv/app.py line 42")


@dataclass
class FailingCrew(FakeCrew):
    fail_with: Exception | None = field(default_factory=_backend_exploded)
