"""`CrewPool` (the complex crew's kickoffs): built crews are reused one kickoff at a time, and a crew whose
kickoff failed is dropped."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from crew.models import Route

pytestmark = pytest.mark.slow


COMPLEX = "I was charged twice this month. Also the app crashes every time I open it."


def test_a_reused_crew_answers_each_message_as_a_fresh_one_does(local_desk) -> None:
    from crew.crews import ComplexCrew, fence, kickoff, run_complex
    from crew.tools import prefetch_articles

    routes = [Route.BILLING, Route.TECHNICAL]
    messages = [COMPLEX, "My invoice shows the wrong plan and I can't reset my password."]
    for message in messages * 2:  # the second round runs on crews that already ran another message
        inputs = {
            "message": fence(message),
            "history": "",
            "emergency": "no",
            "specialists": "billing, technical",
            "articles": prefetch_articles(local_desk.parts.kb_tool, message, routes),
        }
        fresh = kickoff(ComplexCrew(local_desk.parts, routes).crew(), inputs)
        pooled = run_complex(local_desk.parts, routes, inputs)
        assert pooled.raw == fresh.raw
    assert local_desk.parts.pool.idle_count(("complex", tuple(routes))) >= 1


def test_requests_reuse_crews_instead_of_building_them(local_desk) -> None:
    from crew.crews import CrewPool

    first = local_desk.handle(COMPLEX)  # warms the pool for this set of specialists
    assert first.agent_type is Route.COMPLEX
    built: list[object] = []
    original = CrewPool.run

    def counting(self: CrewPool, key: Any, build: Any, inputs: dict[str, Any]) -> Any:
        def counted() -> Any:
            built.append(key)
            return build()

        return original(self, key, counted, inputs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CrewPool, "run", counting)
        result = local_desk.handle(COMPLEX)
    assert result.agent_type is Route.COMPLEX
    assert built == []


def test_a_crew_whose_kickoff_failed_is_not_given_back() -> None:
    from crew.crews import CrewPool

    pool = CrewPool()

    class Exploding:
        def kickoff(self, inputs: dict[str, Any]) -> Any:
            raise RuntimeError("provider timed out")

    with pytest.raises(RuntimeError):
        pool.run("key", lambda: Exploding(), {})  # type: ignore[arg-type, return-value]
    assert pool.idle_count("key") == 0


def test_no_two_kickoffs_share_a_crew_at_once(local_desk) -> None:
    from crew.crews import CrewPool

    pool = CrewPool()
    active: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []
    built: list[object] = []
    gate = threading.Barrier(8)

    class Recording:
        def kickoff(self, inputs: dict[str, Any]) -> Any:
            with lock:
                if id(self) in active:
                    overlaps.append(id(self))
                active.add(id(self))
            gate.wait(timeout=10)  # all eight in flight at once: each must hold its own crew
            with lock:
                active.discard(id(self))
            return None

    def build() -> Any:
        crew = Recording()
        built.append(crew)
        return crew

    with pytest.MonkeyPatch.context() as patch:
        # `kickoff()` insists on a CrewOutput; the recording crew returns none.
        patch.setattr("crew.crews.kickoff", lambda crew, inputs: crew.kickoff(inputs))
        with ThreadPoolExecutor(max_workers=8) as executor:
            list(executor.map(lambda _: pool.run("key", build, {}), range(8)))
    assert overlaps == []
    assert len(built) == 8
    assert pool.idle_count("key") == 8
